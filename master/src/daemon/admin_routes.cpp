#include "daemon/admin_routes.hpp"

#include <algorithm>

#include "daemon/agent_availability.hpp"
#include "remsh/protocol/enrollment_token.hpp"
#include "remsh/protocol/json_fields.hpp"

namespace remsh::master {

namespace json = boost::json;

namespace {

constexpr unsigned kBadRequest = 400, kNotFound = 404, kConflict = 409;

json::array string_array(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

std::vector<std::string> strings_of(const json::value* v) {
  std::vector<std::string> out;
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->get_array()) {
    if (e.is_string()) out.emplace_back(e.get_string());
  }
  return out;
}

// What people read in the STATE column: the connection, then what limits the agent.
std::string status_text(const AgentRecord& a, bool online, bool leaving) {
  if (a.revoked) return "revoked";
  if (!online) return leaving ? "offline (left)" : "offline";
  std::string s = "online";
  if (a.state == "pending") s += " (pending approval)";
  if (leaving) s += " (leaving)";
  if (a.draining) s += " (draining)";
  return s;
}

json::object agent_json(StateDir& state, AgentHub& hub, const AgentRecord& a, bool details) {
  auto link = hub.find(a.name);
  const bool online = link && link->online();
  // The agent's own word (a status message now) or the stored one (it left gracefully).
  const bool leaving = a.leaving || (link && link->leaving());
  AgentFacts reported = read_agent_facts(a);
  json::object& facts = reported.raw;
  json::object o{{"name", a.name},
                 {"state", a.revoked ? "revoked" : online ? "online" : "offline"},
                 {"status", status_text(a, online, leaving)},
                 {"approval", a.state},
                 {"draining", a.draining},
                 {"leaving", leaving},
                 {"labels", string_array(all_labels(a, reported))},
                 {"admin_labels", string_array(a.labels)},
                 {"owner_labels", string_array(reported.owner_labels)},
                 {"created_ms", a.created_ms}};
  for (const char* key : {"os", "os_version", "arch", "cpus", "memory_mb", "disk_free_mb", "hostname",
                          "admin", "description", "work_dir"}) {
    if (const json::value* v = facts.if_contains(key)) o[key] = *v;
  }
  o["version"] = facts.contains("software") ? facts["software"] : json::value("");
  o["policy"] = facts.contains("policy") ? facts["policy"] : json::value(nullptr);
  o["last_seen_ms"] = online ? json::value(now_ms())
                      : a.last_seen_ms ? json::value(*a.last_seen_ms)
                                       : json::value(nullptr);
  if (online) o["connected_since_ms"] = link->connected_since_ms();
  o["work"] = string_array(link ? link->work() : std::vector<std::string>{});
  if (details) {
    json::array messages;
    for (const auto& m : state.storage().list_agent_messages(a.name, false)) {
      json::object mo{{"id", m.id}, {"from", m.sender}, {"text", m.text}, {"created_ms", m.created_ms}};
      mo["delivered_ms"] = m.delivered_ms ? json::value(*m.delivered_ms) : json::value(nullptr);
      messages.push_back(std::move(mo));
    }
    o["messages"] = std::move(messages);
    o["facts"] = std::move(facts);
  }
  return o;
}

AgentRecord agent_or_404(StateDir& state, const std::string& name) {
  auto record = state.storage().find_agent(name);
  if (!record) throw ApiError{kNotFound, "agent-unknown", "no agent named " + name + " (see remsh agents)"};
  return *record;
}

bool valid_agent_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// A label is one word of 1 to 128 bytes: `remsh agents` lists labels comma-separated in a
// blank-separated column, and scripts split on both.
void check_label(const std::string& label) {
  const bool ok = !label.empty() && label.size() <= 128 &&
                  std::none_of(label.begin(), label.end(), [](char c) {
                    const auto u = static_cast<unsigned char>(c);
                    return u <= 0x20 || u == 0x7f || c == ',';
                  });
  if (!ok) {
    throw ApiError{kBadRequest, "bad-request",
                   "label '" + label + "': a label is 1 to 128 bytes, without blanks, control characters or commas"};
  }
}

json::object create_enrollment_token(StateDir& state, AgentHub& hub, const json::object& body) {
  protocol::JsonFields f(body, "token");
  EnrollmentTokenRecord record;
  record.uses_left = static_cast<int>(f.optional_uint("uses", 1, 1000000).value_or(1));
  auto expires = f.optional_uint("expires_s", 1, 10ull * 365 * 24 * 3600);
  record.labels = f.strings("labels", 64, 128);
  record.approve = f.boolean("approve", false);
  if (f.error()) throw ApiError{kBadRequest, "bad-request", f.error()->message};
  for (const auto& l : record.labels) check_label(l);
  const std::string secret = random_hex(24);
  record.id = "t-" + random_hex(4);
  record.secret_hash = sha256_hex(secret);
  record.created_ms = now_ms();
  if (expires) record.expires_ms = record.created_ms + static_cast<std::int64_t>(*expires) * 1000;
  state.storage().create_enrollment_token(record);
  protocol::EnrollmentToken token;
  token.master = hub.token_address();
  token.fingerprint = hub.options().plaintext ? "" : state.fingerprint();
  token.plaintext = hub.options().plaintext;
  token.secret = secret;
  return {{"id", record.id}, {"token", token.encode()}};
}

json::object enrollment_tokens_json(StateDir& state) {
  json::array list;
  const std::int64_t now = now_ms();
  for (const auto& t : state.storage().list_enrollment_tokens()) {
    json::object o{{"id", t.id}, {"uses_left", t.uses_left}, {"labels", string_array(t.labels)},
                   {"approve", t.approve}, {"created_ms", t.created_ms}};
    o["expires_ms"] = t.expires_ms ? json::value(*t.expires_ms) : json::value(nullptr);
    o["usable"] = t.uses_left > 0 && (!t.expires_ms || now < *t.expires_ms);
    list.push_back(std::move(o));
  }
  return {{"tokens", std::move(list)}};
}

json::object create_api_token(StateDir& state, const json::object& body) {
  protocol::JsonFields f(body, "apitoken");
  const std::string role = f.string("role", 32);
  if (f.error()) throw ApiError{kBadRequest, "bad-request", f.error()->message};
  if (!role_from_name(role)) {
    throw ApiError{kBadRequest, "bad-request", "role must be admin, operator or viewer, not " + role};
  }
  const std::string id = "k-" + random_hex(4);
  const std::string secret = "rmt_" + random_hex(32);
  state.storage().add_api_token(id, sha256_hex(secret), role, now_ms());
  return {{"id", id}, {"role", role}, {"token", secret}};
}

const json::object& body_of(const AdminRequest& r) {
  static const json::object empty;
  return r.body ? *r.body : empty;
}

std::string required_string(const AdminRequest& r, const char* key) {
  const json::value* v = body_of(r).if_contains(key);
  if (!v || !v->is_string() || v->get_string().empty()) {
    throw ApiError{kBadRequest, "bad-request", std::string("\"") + key + "\" (a non-empty string) is required"};
  }
  return std::string(v->get_string());
}

json::object agent_action(StateDir& state, AgentHub& hub, const std::string& name,
                          const std::string& action, const AdminRequest& r) {
  AgentRecord a = agent_or_404(state, name);
  Storage& db = state.storage();
  // A revoked agent's record stays for the history; nothing but revoke (again) applies to it,
  // and saying "takes new work again" of it would be a lie.
  if (a.revoked && action != "revoke") {
    throw ApiError{kConflict, "agent-revoked",
                   "agent " + name + " is revoked: no " + action +
                       " (only revoke applies; enrol the machine again to bring it back)"};
  }
  if (action == "approve") {
    db.set_agent_state(name, "approved");
  } else if (action == "drain") {
    db.set_agent_draining(name, true);
  } else if (action == "resume") {
    db.set_agent_draining(name, false);
  } else if (action == "revoke") {
    if (!a.revoked) db.set_agent_revoked(name, true);
    hub.revoke(name);
  } else if (action == "rename") {
    const std::string to = required_string(r, "name");
    if (!valid_agent_name(to)) {
      throw ApiError{kBadRequest, "bad-request", "an agent name is 1 to 64 letters, digits, '-', '_' or '.'"};
    }
    try {
      db.rename_agent(name, to);
    } catch (const StorageError& e) {
      if (e.tag == storage_tag::exists) throw ApiError{kConflict, "exists", e.what()};
      if (e.tag == storage_tag::invalid_argument) throw ApiError{kBadRequest, "bad-request", e.what()};
      throw;
    }
    hub.renamed(name, to);
    return agent_json(state, hub, agent_or_404(state, to), true);
  } else if (action == "labels") {
    std::vector<std::string> labels = a.labels;
    for (const auto& l : strings_of(body_of(r).if_contains("add"))) {
      check_label(l);
      if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
    }
    for (const auto& l : strings_of(body_of(r).if_contains("remove"))) {
      labels.erase(std::remove(labels.begin(), labels.end(), l), labels.end());
    }
    if (labels.size() > 64) throw ApiError{kBadRequest, "bad-request", "at most 64 labels"};
    db.set_agent_labels(name, labels);
  } else if (action == "messages") {
    const std::string text = required_string(r, "text");
    if (text.size() > 4096) throw ApiError{kBadRequest, "bad-request", "a message is at most 4096 bytes"};
    const std::int64_t id = db.add_agent_message(name, r.caller, text, now_ms());
    hub.deliver_notices(name);
    return {{"id", id}, {"agent", name}, {"delivered", false}};
  } else {
    throw ApiError{kNotFound, "not-found", "no agent action " + action};
  }
  return agent_json(state, hub, agent_or_404(state, name), true);
}

json::object shell_session_json(const ShellSessionRecord& s) {
  json::object o{{"id", s.command_id}, {"agent", s.agent}, {"opened_by", s.opened_by},
                 {"cols", s.cols}, {"rows", s.rows}, {"started_ms", s.started_ms}};
  o["ended_ms"] = s.ended_ms ? json::value(*s.ended_ms) : json::value(nullptr);
  o["exit_code"] = s.exit_code ? json::value(*s.exit_code) : json::value(nullptr);
  return o;
}

json::object shell_sessions_json(StateDir& state) {
  json::array list;
  for (const auto& s : state.storage().list_shell_sessions(1000)) list.push_back(shell_session_json(s));
  return {{"sessions", std::move(list)}};
}

}  // namespace

std::optional<std::int64_t> parse_id(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(text);
}

json::object agents_json(StateDir& state, AgentHub& hub) {
  json::array list;
  for (const auto& a : state.storage().list_agents()) list.push_back(agent_json(state, hub, a, false));
  return {{"agents", list}};
}

std::optional<json::object> handle_admin_route(StateDir& state, AgentHub& hub, const AdminRequest& r) {
  const std::string agents = "/api/v1/agents/";
  if (r.path == "/api/v1/agents" && r.method == "GET") return agents_json(state, hub);
  if (r.path.rfind(agents, 0) == 0) {
    const std::string rest = r.path.substr(agents.size());
    const auto slash = rest.find('/');
    const std::string name = rest.substr(0, slash);
    if (slash == std::string::npos && r.method == "GET") {
      return agent_json(state, hub, agent_or_404(state, name), true);
    }
    if (slash != std::string::npos && r.method == "POST") {
      return agent_action(state, hub, name, rest.substr(slash + 1), r);
    }
    return std::nullopt;
  }
  if (r.path == "/api/v1/tokens" && r.method == "POST") return create_enrollment_token(state, hub, body_of(r));
  if (r.path == "/api/v1/tokens" && r.method == "GET") return enrollment_tokens_json(state);
  if (r.path.rfind("/api/v1/tokens/", 0) == 0 && r.method == "DELETE") {
    const std::string id = r.path.substr(15);
    try {
      state.storage().delete_enrollment_token(id);
    } catch (const StorageError& e) {
      if (e.tag == storage_tag::not_found) throw ApiError{kNotFound, "not-found", "no enrollment token " + id};
      throw;
    }
    return json::object{{"deleted", id}};
  }
  if (r.path == "/api/v1/apitokens" && r.method == "POST") return create_api_token(state, body_of(r));
  if (r.path == "/api/v1/apitokens" && r.method == "GET") {
    json::array tokens;
    for (const ApiToken& t : state.storage().list_api_tokens()) {
      tokens.push_back(json::object{{"id", t.id}, {"role", t.role}, {"created_ms", t.created_ms}});
    }
    return json::object{{"tokens", std::move(tokens)}};
  }
  if (r.path.rfind("/api/v1/apitokens/", 0) == 0 && r.method == "DELETE") {
    const std::string id = r.path.substr(18);
    // The state dir's admin token is how an admin gets back in: deleting it is refused, as is
    // deleting the token the request itself came with (the caller would lock itself out).
    if (id == "admin") {
      throw ApiError{kConflict, "denied", "the admin token (STATE_DIR/admin.token) cannot be deleted"};
    }
    if (id == r.caller) {
      throw ApiError{kConflict, "denied", "a token cannot delete itself; use another admin token"};
    }
    try {
      state.storage().delete_api_token(id);
    } catch (const StorageError& e) {
      if (e.tag == storage_tag::not_found) throw ApiError{kNotFound, "not-found", "no API token " + id};
      throw;
    }
    return json::object{{"deleted", id}};
  }
  if (r.path == "/api/v1/shell-sessions" && r.method == "GET") return shell_sessions_json(state);
  return std::nullopt;
}

}  // namespace remsh::master
