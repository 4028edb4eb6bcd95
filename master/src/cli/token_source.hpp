// Where the API token comes from. Precedence, first one set wins:
//   1. --token-file FILE
//   2. env REMSH_TOKEN_FILE (a file holding the token)
//   3. env REMSH_TOKEN (the token text itself)
// An empty value counts as unset. The token is the file's or variable's text with leading and
// trailing whitespace removed. With none of them the requests carry no token (the master then
// answers 401, and the error says how to give one).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace remsh::cli {

struct TokenSource {
    enum class Kind { none, file, text };
    Kind kind = Kind::none;
    std::string value;   // the file's path, or the token text (unstripped)
    std::string origin;  // "--token-file", "REMSH_TOKEN_FILE" or "REMSH_TOKEN"; empty for none
};

// Pure: picks the source. `env_file` and `env_text` are the variables' values (nullptr: unset).
TokenSource choose_token_source(const std::optional<std::string>& flag_file, const char* env_file,
                                const char* env_text);

// `text` without leading and trailing whitespace (spaces, tabs, CR, LF, ...).
std::string strip_whitespace(std::string_view text);

// The token: reads the file when the source is one. Throws CliError("token-file", ...) when
// the file cannot be read or holds only whitespace, CliError("token", ...) when REMSH_TOKEN is
// only whitespace. Empty for Kind::none.
std::string load_token(const TokenSource& source);

// A description for messages: "the token from --token-file /x", "no token".
std::string describe_token_source(const TokenSource& source);

}  // namespace remsh::cli
