#include "api_main.hpp"

#include "cli_error.hpp"
#include "exit_codes.hpp"
#include "output_sink.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace remsh::cli {

int report_exception(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const CliError& e) {
        print_error(e.tag, e.what());
        return exit_code_for_error_tag(e.tag);
    } catch (const std::exception& e) {
        print_error("error", e.what());
    } catch (...) {
        print_error("error", "unknown failure");
    }
    return exit_error;
}

int run_api_main(const ConnectionSettings& settings,
                 const std::function<boost::asio::awaitable<int>(ApiClient&)>& body) {
    boost::asio::io_context ioc;
    ApiClient api(settings);
    int code = exit_error;
    boost::asio::co_spawn(ioc, body(api), [&code](std::exception_ptr error, int result) {
        code = error ? report_exception(error) : result;
    });
    ioc.run();
    return code;
}

}  // namespace remsh::cli
