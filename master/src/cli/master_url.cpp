#include "master_url.hpp"

#include <cctype>
#include <utility>

namespace remsh::cli {

namespace {

bool fail(std::string* error, std::string message) {
    if (error != nullptr) {
        *error = std::move(message);
    }
    return false;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
            return false;
        }
    }
    return true;
}

bool valid_port(std::string_view port) {
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos) {
        return false;
    }
    int n = 0;
    for (char c : port) {
        n = n * 10 + (c - '0');
    }
    return n >= 1 && n <= 65535;
}

}  // namespace

std::string MasterUrl::host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + port;
}

bool MasterUrl::host_is_ip() const {
    if (host.find(':') != std::string::npos) {
        return true;  // IPv6
    }
    return !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
}

std::optional<MasterUrl> parse_master_url(std::string_view text, std::string* error) {
    MasterUrl url;
    std::string_view rest = text;
    while (!rest.empty() && rest.back() == '/') {
        rest.remove_suffix(1);
    }
    url.text = std::string(rest);
    if (starts_with_ci(rest, "https://")) {
        url.tls = true;
        rest.remove_prefix(8);
    } else if (starts_with_ci(rest, "http://")) {
        rest.remove_prefix(7);
    } else if (rest.find("://") != std::string_view::npos) {
        fail(error, "unsupported scheme in '" + std::string(text) + "' (use http:// or https://)");
        return std::nullopt;
    } else {
        url.text = "http://" + url.text;
    }
    if (rest.find_first_of("?#@") != std::string_view::npos) {
        fail(error, "'" + std::string(text) + "' must not hold a query, fragment or user name");
        return std::nullopt;
    }
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        url.base_path = std::string(rest.substr(slash));
    }
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            fail(error, "unbalanced '[' in '" + std::string(text) + "'");
            return std::nullopt;
        }
        url.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                fail(error, "unexpected text after ']' in '" + std::string(text) + "'");
                return std::nullopt;
            }
            port = after.substr(1);
            if (port.empty()) {
                fail(error, "empty port in '" + std::string(text) + "'");
                return std::nullopt;
            }
        }
    } else {
        const std::size_t colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            if (authority.find(':') != colon) {
                fail(error, "put an IPv6 address in brackets: '[" + std::string(authority) + "]'");
                return std::nullopt;
            }
            port = authority.substr(colon + 1);
            authority = authority.substr(0, colon);
            if (port.empty()) {
                fail(error, "empty port in '" + std::string(text) + "'");
                return std::nullopt;
            }
        }
        url.host = std::string(authority);
    }
    if (url.host.empty()) {
        fail(error, "no host in '" + std::string(text) + "'");
        return std::nullopt;
    }
    if (!port.empty() && !valid_port(port)) {
        fail(error, "bad port '" + std::string(port) + "' in '" + std::string(text) + "'");
        return std::nullopt;
    }
    url.port = port.empty() ? (url.tls ? "443" : "80") : std::string(port);
    return url;
}

std::optional<std::string> normalize_fingerprint(std::string_view text) {
    if (starts_with_ci(text, "sha256:")) {
        text.remove_prefix(7);
    } else if (starts_with_ci(text, "sha256 fingerprint=")) {
        text.remove_prefix(19);
    }
    std::string hex;
    for (char c : text) {
        if (c == ':') {
            continue;
        }
        if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return std::nullopt;
        }
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 64) {
        return std::nullopt;
    }
    return hex;
}

}  // namespace remsh::cli
