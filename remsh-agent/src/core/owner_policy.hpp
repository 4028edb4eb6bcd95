// OwnerPolicy: what the agent's owner allows the master to do on this machine. It lives on
// the owner's side only: DIR/policy.json (optional) and flags of `remsh-agent run`, merged;
// the master learns it from the agent's facts and can never change it. The agent enforces
// it on every request whatever the master asks (tag policy-denied).
//
//   {"confine": true, "allow_shell": false, "max_concurrent": 4,
//    "allow_paths": ["/srv/cache"], "deny_env": ["AWS_SECRET_ACCESS_KEY"]}
//
// Defaults: confined to the work directory, no debug shell, no limit on concurrent commands
// beyond the protocol's channel limit, no extra paths, nothing withheld from the environment.
#pragma once

#include "remsh/protocol/error.hpp"
#include "remsh/protocol/messages.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace remsh::agent {

struct OwnerPolicy {
  bool confine = true;       // file operations stay inside the work dir (+ allow_paths)
  bool allow_shell = false;  // the remote debug shell
  std::optional<std::uint32_t> max_concurrent;         // commands running at once
  std::vector<std::filesystem::path> allow_paths;      // absolute
  std::vector<std::string> deny_env;                   // never exported to commands

  // Adds `more` on top: flags and lists add up, a limit given twice keeps the lower one, and
  // a shell or unconfined access allowed anywhere is allowed.
  void merge(const OwnerPolicy& more);
  bool denies_env(const std::string& name) const;
  // What the agent reports to the master (facts.policy).
  boost::json::object to_json() const;
};

class PolicyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Judges a command against the policy, `running` commands being under way: policy-denied
// when it would exceed max_concurrent or sets a withheld variable. Otherwise it marks the
// withheld variables unset in `request`, so the command does not inherit them either.
std::optional<protocol::ProtocolError> check_exec_request(const OwnerPolicy& policy, std::size_t running,
                                                          protocol::ExecRequest& request);

std::filesystem::path policy_path(const std::filesystem::path& config_dir);
// Throws PolicyError (without the file name).
OwnerPolicy policy_from_json(const std::string& text);
// DIR/policy.json, or the defaults when there is none. Throws PolicyError naming the file.
OwnerPolicy load_policy(const std::filesystem::path& config_dir);

}  // namespace remsh::agent
