#include "daemon/secret_routes.hpp"

#include "daemon/api_error.hpp"
#include "daemon/secret_masker.hpp"
#include "daemon/state_dir.hpp"
#include "remsh/protocol/limits.hpp"

namespace remsh::master {

namespace json = boost::json;

namespace {
constexpr unsigned kBadRequest = 400, kNotFound = 404;
// One environment string of a step (docs/protocol.md: strings in a message are at most 32 KiB).
constexpr std::size_t kMaxSecretValue = protocol::kMaxStringLength;
}  // namespace

std::optional<json::object> handle_secret_route(StateDir& state, const AdminRequest& r) {
  Storage& db = state.storage();
  if (r.path == "/api/v1/secrets" && r.method == "GET") {
    json::array list;
    for (const SecretRecord& s : db.list_secrets()) {
      list.push_back(json::object{{"name", s.name}, {"updated_by", s.updated_by}, {"updated_ms", s.updated_ms}});
    }
    return json::object{{"secrets", std::move(list)}};
  }
  const std::string prefix = "/api/v1/secrets/";
  if (r.path.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string name = r.path.substr(prefix.size());
  if (!valid_secret_name(name)) {
    throw ApiError{kBadRequest, "bad-request", "a secret's name is a variable name: letters, digits and _, not starting with a digit"};
  }
  if (r.method == "POST") {
    const json::value* value = r.body ? r.body->if_contains("value") : nullptr;
    if (!value || !value->is_string()) throw ApiError{kBadRequest, "bad-request", "\"value\" (a string) is required"};
    const std::string text(value->get_string());
    // Shorter values cannot be masked in logs without masking ordinary text with them.
    if (text.size() < SecretMasker::kMinSecretLength || text.size() > kMaxSecretValue) {
      throw ApiError{kBadRequest, "bad-request",
                     "a secret's value is " + std::to_string(SecretMasker::kMinSecretLength) + " to " +
                         std::to_string(kMaxSecretValue) + " bytes (shorter ones could not be masked in logs)"};
    }
    if (text.find('\0') != std::string::npos) throw ApiError{kBadRequest, "bad-request", "a secret's value cannot hold a NUL byte"};
    const bool existed = db.get_secret(name).has_value();
    SecretRecord s;
    s.name = name;
    s.sealed = state.secret_box().seal(name, text);
    s.updated_by = r.caller;
    s.updated_ms = now_ms();
    db.put_secret(s);
    return json::object{{"name", name}, {"created", !existed}};
  }
  if (r.method == "DELETE") {
    if (!db.delete_secret(name)) throw ApiError{kNotFound, "not-found", "no secret " + name};
    return json::object{{"name", name}, {"deleted", true}};
  }
  return std::nullopt;
}

}  // namespace remsh::master
