#include "json_access.hpp"

#include <boost/json/value.hpp>

#include <cmath>

namespace remsh::cli {

namespace json = boost::json;

const json::value* member(const json::value& v, std::string_view key) {
    const json::object* obj = v.if_object();
    return obj == nullptr ? nullptr : obj->if_contains(key);
}

std::string get_string(const json::value& v, std::string_view key) {
    const json::value* m = member(v, key);
    if (m == nullptr || !m->is_string()) {
        return {};
    }
    return std::string(m->get_string());
}

std::optional<std::int64_t> get_int(const json::value& v, std::string_view key) {
    const json::value* m = member(v, key);
    if (m == nullptr) {
        return std::nullopt;
    }
    if (m->is_int64()) {
        return m->get_int64();
    }
    if (m->is_uint64()) {
        const std::uint64_t u = m->get_uint64();
        return u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(u);
    }
    if (m->is_double()) {
        const double d = m->get_double();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
            return static_cast<std::int64_t>(d);
        }
    }
    return std::nullopt;
}

std::vector<std::string> get_strings(const json::value& v, std::string_view key) {
    std::vector<std::string> out;
    const json::value* m = member(v, key);
    if (m == nullptr || !m->is_array()) {
        return out;
    }
    for (const json::value& e : m->get_array()) {
        if (e.is_string()) {
            out.emplace_back(e.get_string());
        }
    }
    return out;
}

std::string scalar_text(const json::value* v) {
    if (v == nullptr) {
        return {};
    }
    if (v->is_string()) {
        return std::string(v->get_string());
    }
    if (v->is_int64()) {
        return std::to_string(v->get_int64());
    }
    if (v->is_uint64()) {
        return std::to_string(v->get_uint64());
    }
    return {};
}

}  // namespace remsh::cli
