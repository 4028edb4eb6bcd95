#include "signal_names.hpp"

#include <cctype>

namespace remsh::cli {

namespace {

struct SignalEntry {
    std::string_view name;
    int number;
};

constexpr SignalEntry kSignals[] = {
    {"HUP", 1},     {"INT", 2},     {"QUIT", 3},    {"ILL", 4},      {"TRAP", 5},
    {"ABRT", 6},    {"IOT", 6},     {"BUS", 7},     {"FPE", 8},      {"KILL", 9},
    {"USR1", 10},   {"SEGV", 11},   {"USR2", 12},   {"PIPE", 13},    {"ALRM", 14},
    {"TERM", 15},   {"STKFLT", 16}, {"CHLD", 17},   {"CONT", 18},    {"STOP", 19},
    {"TSTP", 20},   {"TTIN", 21},   {"TTOU", 22},   {"URG", 23},     {"XCPU", 24},
    {"XFSZ", 25},   {"VTALRM", 26}, {"PROF", 27},   {"WINCH", 28},   {"IO", 29},
    {"POLL", 29},   {"PWR", 30},    {"SYS", 31},
};

}  // namespace

std::optional<int> signal_number(std::string_view name) {
    if (name.empty()) {
        return std::nullopt;
    }
    if (name.find_first_not_of("0123456789") == std::string_view::npos) {
        if (name.size() > 2) {
            return std::nullopt;
        }
        int n = 0;
        for (char c : name) {
            n = n * 10 + (c - '0');
        }
        if (n < 1 || n > 64) {
            return std::nullopt;
        }
        return n;
    }
    std::string upper;
    upper.reserve(name.size());
    for (char c : name) {
        upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    std::string_view bare = upper;
    if (bare.size() > 3 && bare.substr(0, 3) == "SIG") {
        bare.remove_prefix(3);
    }
    for (const SignalEntry& e : kSignals) {
        if (e.name == bare) {
            return e.number;
        }
    }
    return std::nullopt;
}

std::string_view signal_name(int number) {
    for (const SignalEntry& e : kSignals) {
        if (e.number == number) {
            return e.name;
        }
    }
    return {};
}

std::optional<int> signal_exit_code(std::string_view name) {
    const auto n = signal_number(name);
    if (!n) {
        return std::nullopt;
    }
    return 128 + *n;
}

}  // namespace remsh::cli
