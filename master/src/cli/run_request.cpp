#include "run_request.hpp"

#include "remsh/protocol/utf8.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace remsh::cli {

namespace json = boost::json;

std::string run_request_json(const RunRequest& r) {
    json::object o;
    o["agent"] = r.agent;
    if (r.shell) {
        o["shell"] = *r.shell;
    } else if (r.interactive && r.argv.empty()) {
        // the agent's login shell
    } else {
        json::array argv;
        for (const std::string& a : r.argv) {
            argv.emplace_back(a);
        }
        o["argv"] = std::move(argv);
    }
    if (r.cwd) {
        o["cwd"] = *r.cwd;
    }
    if (!r.env.empty()) {
        json::object env;
        for (const auto& [k, v] : r.env) {
            env[k] = v;
        }
        o["env"] = std::move(env);
    }
    if (r.timeout_s) {
        o["timeout_s"] = *r.timeout_s;
    }
    o["stdin"] = r.with_stdin;
    if (r.interactive) {
        o["interactive"] = true;
    }
    if (r.pty) {
        o["pty"] = json::object{{"cols", r.pty->cols}, {"rows", r.pty->rows}};
    }
    if (!r.codecs.empty()) {
        o["codecs"] = json::array(r.codecs.begin(), r.codecs.end());
    }
    return json::serialize(o);
}

std::optional<std::string> run_request_problem(const RunRequest& r) {
    const auto not_text = [](const std::string& what, const std::string& value) {
        return what + " is not UTF-8 text ('" + protocol::to_utf8_lossy(value) + "'): commands travel as text";
    };
    for (std::size_t i = 0; i < r.argv.size(); ++i) {
        if (!protocol::is_utf8(r.argv[i])) {
            // Such a file can still be named: by a glob, in a shell line or in the shell itself.
            return not_text("word " + std::to_string(i + 1) + " of the command", r.argv[i]) +
                   (r.interactive ? "; in the shell, a glob can name such a file (ls caf?)"
                                  : "; a shell line can name such a file with a glob (--shell 'ls caf?')");
        }
    }
    if (r.shell && !protocol::is_utf8(*r.shell)) return not_text("the shell line", *r.shell);
    if (r.cwd && !protocol::is_utf8(*r.cwd)) return not_text("--cwd", *r.cwd);
    for (const auto& [k, v] : r.env) {
        if (!protocol::is_utf8(k) || !protocol::is_utf8(v)) return not_text("--env " + protocol::to_utf8_lossy(k), v);
    }
    return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> split_env_assignment(std::string_view text) {
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        return std::nullopt;
    }
    return std::pair<std::string, std::string>(std::string(text.substr(0, eq)),
                                               std::string(text.substr(eq + 1)));
}

}  // namespace remsh::cli
