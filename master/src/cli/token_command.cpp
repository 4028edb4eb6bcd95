// `remsh token create`: an enrollment token for a new agent (POST /api/v1/tokens).
#include "api_main.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "duration.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "json_access.hpp"

#include <boost/json/value.hpp>

namespace remsh::cli {

int token_create_command(const ConnectionSettings& settings, const TokenCreateOptions& options) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        boost::json::object request;
        if (options.uses) {
            request["uses"] = *options.uses;
        }
        if (options.expires_s) {
            request["expires_s"] = *options.expires_s;
        }
        if (!options.labels.empty()) {
            boost::json::array labels;
            for (const std::string& l : options.labels) {
                labels.emplace_back(l);
            }
            request["labels"] = std::move(labels);
        }
        if (options.approve) {
            request["approve"] = true;
        }
        const boost::json::value response = co_await api.post("/api/v1/tokens", std::move(request));
        const std::string token = get_string(response, "token");
        if (token.empty()) {
            throw CliError("bad-response", "the master's answer holds no token");
        }
        // A summary for people, then the token alone on the last line for scripts
        // (`remsh token create | tail -n 1`).
        const int uses = options.uses.value_or(1);
        std::string summary = "token " + get_string(response, "id") + ": " + std::to_string(uses) +
                              (uses == 1 ? " use" : " uses") + ", " +
                              (options.expires_s ? "expires in " + format_duration_s(*options.expires_s)
                                                 : std::string("no expiry"));
        if (!options.labels.empty()) {
            summary += ", labels";
            for (const std::string& l : options.labels) {
                summary += " " + l;
            }
        }
        if (options.approve) {
            summary += ", agents wait for approval (remsh agent approve NAME)";
        }
        summary += "; enroll an agent with: remsh-agent enroll TOKEN\n";
        (void)write_all(1, summary + token + "\n");
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
