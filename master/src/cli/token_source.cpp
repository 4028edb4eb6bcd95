#include "token_source.hpp"

#include "cli_error.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace remsh::cli {

namespace {

bool is_set(const char* value) { return value != nullptr && value[0] != '\0'; }

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

TokenSource choose_token_source(const std::optional<std::string>& flag_file, const char* env_file,
                                const char* env_text) {
    if (flag_file && !flag_file->empty()) {
        return {TokenSource::Kind::file, *flag_file, "--token-file"};
    }
    if (is_set(env_file)) {
        return {TokenSource::Kind::file, env_file, "REMSH_TOKEN_FILE"};
    }
    if (is_set(env_text)) {
        return {TokenSource::Kind::text, env_text, "REMSH_TOKEN"};
    }
    return {};
}

std::string strip_whitespace(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return std::string(text);
}

std::string load_token(const TokenSource& source) {
    switch (source.kind) {
    case TokenSource::Kind::none:
        return {};
    case TokenSource::Kind::text: {
        std::string token = strip_whitespace(source.value);
        if (token.empty()) {
            throw CliError("token", "REMSH_TOKEN holds only whitespace");
        }
        return token;
    }
    case TokenSource::Kind::file:
        break;
    }
    std::ifstream in(source.value, std::ios::binary);
    if (!in) {
        throw CliError("token-file", "cannot read " + source.value + " (" + source.origin +
                                         "): " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw CliError("token-file", "cannot read " + source.value + " (" + source.origin + ")");
    }
    std::string token = strip_whitespace(text.str());
    if (token.empty()) {
        throw CliError("token-file", source.value + " (" + source.origin + ") is empty");
    }
    return token;
}

std::string describe_token_source(const TokenSource& source) {
    switch (source.kind) {
    case TokenSource::Kind::none:
        return "no token was given";
    case TokenSource::Kind::text:
        return "the token from REMSH_TOKEN";
    case TokenSource::Kind::file:
        break;
    }
    return "the token from " + source.origin + " " + source.value;
}

}  // namespace remsh::cli
