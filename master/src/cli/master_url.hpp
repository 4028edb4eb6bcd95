// The master's address as given by --master / REMSH_MASTER: "http://HOST[:PORT][/PATH]",
// "https://HOST[:PORT][/PATH]" or "HOST[:PORT]" (http). HOST may be a name, an IPv4 address or
// a bracketed IPv6 address ("[::1]"). The default ports are 80 and 443; the master's own
// default is http://127.0.0.1:7080.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::cli {

struct MasterUrl {
    bool tls = false;
    std::string host;       // without brackets
    std::string port;       // always set ("80"/"443" when not given)
    std::string base_path;  // "" or "/prefix" (no trailing slash); API paths are appended
    std::string text;       // as given, without a trailing slash, for messages

    // "host:port" for the Host header (brackets around an IPv6 address).
    std::string host_header() const;
    // Whether host is an IP address literal (no SNI, no host name check).
    bool host_is_ip() const;
};

// Parses `text`; on failure nullopt and *error says why.
std::optional<MasterUrl> parse_master_url(std::string_view text, std::string* error = nullptr);

// A certificate fingerprint as given by --master-fingerprint: 64 hex digits, optionally with
// ':' separators (as `openssl x509 -fingerprint -sha256` prints them) and a "sha256:" prefix.
// Returns the 64 lowercase hex digits, or nullopt when it is not such a fingerprint.
std::optional<std::string> normalize_fingerprint(std::string_view text);

}  // namespace remsh::cli
