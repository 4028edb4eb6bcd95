// One command run through the `GET /api/v1/run` WebSocket: sends the request, writes the output
// to a sink, delivers signals and stdin, and turns the end (result, error, lost connection)
// into an exit code and the error to print.
#pragma once

#include "api_client.hpp"
#include "command_record.hpp"
#include "output_decoder.hpp"
#include "output_sink.hpp"
#include "run_request.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace remsh::cli {

class RunSession {
public:
    // How long a command asked to stop (Ctrl-C, TERM, our stdout gone) has before KILL.
    static constexpr std::chrono::seconds kill_grace{5};

    RunSession(ApiClient& api, RunRequest request, OutputSink& sink);

    // Runs the command to its end. The outcome's tag is empty unless there is an error to
    // print (the caller prints it, after restoring the terminal). Does not throw.
    boost::asio::awaitable<CommandOutcome> run();

    // Delivers "INT", "TERM" or "KILL" to the command: at once once it started, otherwise when
    // it starts (a pending KILL is not downgraded). Ignored once it ended.
    void signal(const std::string& name);
    // Tells the remote pty its new size (ignored before the start or after the end).
    void resize(int cols, int rows);

    // stdin for the command (binary 0x00 + bytes) and its end (0x00 alone). They throw
    // CliError when the WebSocket broke (run() reports that).
    boost::asio::awaitable<void> send_stdin(std::string_view bytes);
    boost::asio::awaitable<void> send_stdin_eof();
    // Our stdin could not be read (errno `error`, e.g. EISDIR for `< some-directory`): the
    // command must not take what it got for all of its input, so it is stopped (TERM, then
    // KILL) rather than given the end of its input, and remsh exits 255 saying why.
    void input_failed(int error);

    bool started() const { return started_; }
    bool finished() const { return finished_; }
    const std::string& command_id() const { return id_; }

    // Called once, when the master reports that the command started.
    std::function<void()> on_started;
    // Send the end of stdin as soon as the command starts (no stdin forwarding).
    bool eof_at_start = false;

private:
    void send_text_detached(std::string text);
    void on_output(std::string_view message);
    // TERM now, KILL 5 s later unless the command ended by then.
    void stop_command();
    // The command ended (or the connection did): no more output, no KILL still to come.
    void end();
    // When our stdout failed (not merely closed) or stdin could not be read, that is the
    // outcome to report.
    CommandOutcome with_io_failure(CommandOutcome outcome);

    ApiClient& api_;
    RunRequest request_;
    OutputSink& sink_;
    OutputDecoder decoder_;
    std::shared_ptr<WebSocket> ws_;
    std::string id_;
    std::string pending_signal_;
    bool started_ = false;
    bool finished_ = false;
    bool output_closed_ = false;
    int input_error_ = 0;  // errno of a failed read of our stdin
    // KILL for a command that outlives the TERM sent when our stdout went away.
    std::shared_ptr<boost::asio::steady_timer> kill_timer_;
};

}  // namespace remsh::cli
