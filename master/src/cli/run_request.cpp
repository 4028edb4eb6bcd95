#include "run_request.hpp"

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

std::optional<std::pair<std::string, std::string>> split_env_assignment(std::string_view text) {
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        return std::nullopt;
    }
    return std::pair<std::string, std::string>(std::string(text.substr(0, eq)),
                                               std::string(text.substr(eq + 1)));
}

}  // namespace remsh::cli
