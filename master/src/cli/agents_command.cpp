// `remsh agents [--json]`: the agents the master knows.
#include "agent_info.hpp"
#include "api_main.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "fd_io.hpp"
#include "time_format.hpp"

#include <boost/json/serialize.hpp>

namespace remsh::cli {

int agents_command(const ConnectionSettings& settings, const AgentsOptions& options) {
    return run_api_main(settings, [&](ApiClient& api) -> boost::asio::awaitable<int> {
        const boost::json::value response = co_await api.get("/api/v1/agents");
        if (options.json) {
            (void)write_all(1, boost::json::serialize(response) + "\n");
        } else {
            (void)write_all(1, format_agent_table(parse_agent_list(response), now_ms()));
        }
        co_return exit_ok;
    });
}

}  // namespace remsh::cli
