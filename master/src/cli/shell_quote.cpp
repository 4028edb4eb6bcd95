#include "shell_quote.hpp"

namespace remsh::cli {

namespace {

bool is_safe(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
    case '@': case '%': case '+': case '=': case ':': case ',': case '.': case '/': case '-':
    case '_':
        return true;
    default:
        return false;
    }
}

}  // namespace

std::string shell_quote(std::string_view word) {
    if (word.empty()) {
        return "''";
    }
    bool safe = true;
    for (char c : word) {
        if (!is_safe(c)) {
            safe = false;
            break;
        }
    }
    if (safe) {
        return std::string(word);
    }
    std::string out = "'";
    for (char c : word) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const std::string& word : argv) {
        if (!out.empty()) {
            out += ' ';
        }
        out += shell_quote(word);
    }
    return out;
}

std::string cmd_quote(std::string_view word) {
    if (!word.empty() && word.find_first_of(" \t\"&|<>^%()") == std::string_view::npos) {
        return std::string(word);
    }
    std::string out = "\"";
    for (char c : word) {
        out += c == '"' ? std::string("\\\"") : std::string(1, c);
    }
    return out + "\"";
}

}  // namespace remsh::cli
