// The first message of a `GET /api/v1/run` WebSocket: what to run, where and how.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace remsh::cli {

struct RunRequest {
    std::string agent;
    std::vector<std::string> argv;    // used when `shell` is unset
    std::optional<std::string> shell;  // a shell line instead of argv
    std::optional<std::string> cwd;
    std::vector<std::pair<std::string, std::string>> env;  // later entries win
    std::optional<std::int64_t> timeout_s;
    bool with_stdin = true;  // "stdin": the client sends stdin (at least its end)
    struct Size {
        int cols = 80;
        int rows = 24;
    };
    std::optional<Size> pty;
    bool interactive = false;  // a debug shell; with no argv/shell: the agent's login shell
    // Stream codecs the client decodes itself ("codecs"): output then arrives compressed.
    std::vector<std::string> codecs;
};

// {"agent":..,"argv":[..],"cwd":..,"env":{..},"timeout_s":..,"stdin":true,"pty":{..},
//  "codecs":[..]}
std::string run_request_json(const RunRequest& request);

// Why the request cannot be sent, or nullopt: a command's words, its shell line, cwd and
// environment travel as JSON text (docs/protocol.md 9.5), which must be UTF-8.
std::optional<std::string> run_request_problem(const RunRequest& request);

// "K=V" -> {"K","V"} (V may be empty or hold '='); nullopt without '=' or with an empty K.
std::optional<std::pair<std::string, std::string>> split_env_assignment(std::string_view text);

}  // namespace remsh::cli
