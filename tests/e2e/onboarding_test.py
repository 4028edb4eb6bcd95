"""End-to-end tests of onboarding and administration: enrollment tokens, approval, drain,
revoke, rename, messages to owners, graceful leave, owner policy, API roles, service unit.

Real master, agents and CLI on 127.0.0.1 (harness.py); every wait is bounded.
"""
import json
import os
import signal
import stat
import subprocess
import time
import urllib.error
import urllib.request

from harness import Cluster, binary, run_tests, wait_until

TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout.decode()


def agent_json(c, name):
    return json.loads(ok(c.remsh("agent", "show", name, "--json")))


def token(c, *args):
    return ok(c.remsh("token", "create", *args)).strip().splitlines()[-1]


def run_fails_with(c, name, tag):
    r = c.remsh("run", name, "--", "true")
    assert r.returncode == 255 and tag.encode() in r.stderr, (r.returncode, r.stderr)


@test
def one_token_enrolls_five_agents_and_refuses_the_sixth(c: Cluster):
    c.start_master()
    t = token(c, "--uses", "5", "--label", "pool")
    # A directory whose name is not UTF-8 cannot go in agent.json: refused before the token
    # is spent (it used to enrol an agent that could then not read its configuration).
    r, _, _ = c.enroll("v0", token=t, extra=["--allow-path", os.path.join(os.fsencode(c.tmp), b"w\xe9")])
    assert r.returncode == 2 and b"not UTF-8" in r.stderr, r
    for i in range(5):
        r, cfg, _ = c.enroll(f"v{i}", token=t)
        assert r.returncode == 0, r.stderr
        c.start_agent(f"v{i}", cfg)
    r, _, _ = c.enroll("v5", token=t)
    assert r.returncode == 1 and b"used up" in r.stderr, r
    for i in range(5):
        c.wait_online(f"v{i}")
    # Five identities, each with its own secret.
    secrets = set()
    for i in range(5):
        with open(os.path.join(c.tmp, f"agent-v{i}", "agent.json")) as f:
            secrets.add(json.load(f)["secret"])
    assert len(secrets) == 5
    # Every one of them takes work, and fan-out reaches all five.
    r = c.remsh("run", "--label", "pool", "--", "echo", "hi")
    assert r.returncode == 0 and r.stdout.decode().count("hi") == 5, r


@test
def expired_and_deleted_tokens_are_refused_clearly(c: Cluster):
    c.start_master()
    t = token(c, "--expires", "1s")
    time.sleep(1.5)
    r, _, _ = c.enroll("late", token=t)
    assert r.returncode == 1 and b"expired" in r.stderr, r
    t2 = token(c)
    tokens = json.loads(ok(c.remsh("token", "list", "--json")))["tokens"]
    usable = [x["id"] for x in tokens if x["usable"]]
    assert len(usable) == 1, tokens
    ok(c.remsh("token", "delete", usable[0]))
    r, _, _ = c.enroll("gone", token=t2)
    assert r.returncode == 1 and b"unknown enrollment token" in r.stderr, r
    r = c.remsh("token", "delete", usable[0])
    assert r.returncode == 255 and b"not-found" in r.stderr, r


@test
def names_come_from_the_host_name_with_a_suffix(c: Cluster):
    c.start_master()
    t = token(c, "--uses", "2")
    names = []
    for i in range(2):
        cfg = os.path.join(c.tmp, f"noname{i}")
        r = subprocess.run([binary("remsh-agent"), "enroll", t, "--config-dir", cfg],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(cfg, "agent.json")) as f:
            names.append(json.load(f)["name"])
    host = os.uname().nodename.split(".")[0]
    assert names[0] != names[1], names
    for n in names:
        assert n.startswith(host + "-") and len(n) == len(host) + 5, names
    # A --name that is taken gets a suffix too, and the owner is told so.
    t = token(c, "--uses", "2")
    for i in range(2):
        cfg = os.path.join(c.tmp, f"named{i}")
        r = subprocess.run([binary("remsh-agent"), "enroll", t, "--config-dir", cfg, "--name", "fixed"],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(cfg, "agent.json")) as f:
            got = json.load(f)["name"]
        assert (got == "fixed") == (i == 0), got
        assert (b"remsh-agent: note: the name fixed is taken" in r.stderr) == (i == 1), r.stderr


@test
def approval_flow(c: Cluster):
    c.start_master()
    r, cfg, _ = c.enroll("p1", token=token(c, "--approve"))
    assert r.returncode == 0, r.stderr
    c.start_agent("p1", cfg)
    c.wait_online("p1")
    a = agent_json(c, "p1")
    assert a["approval"] == "pending" and "pending" in a["status"], a
    run_fails_with(c, "p1", "agent-pending")
    ok(c.remsh("agent", "approve", "p1"))
    r = c.remsh("run", "p1", "--", "echo", "approved")
    assert r.returncode == 0 and r.stdout == b"approved\n", r


@test
def drain_keeps_the_running_command_refuses_new_ones_and_survives_a_restart(c: Cluster):
    c.start_master()
    c.add_agent("d1")
    long_run = c.remsh_popen("run", "d1", "--", "sh", "-c", "sleep 2; echo finished",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until("the command to start", lambda: agent_json(c, "d1")["work"] != [])
    ok(c.remsh("agent", "drain", "d1"))
    assert "draining" in ok(c.remsh("agent", "show", "d1"))
    run_fails_with(c, "d1", "agent-draining")
    out, err = long_run.communicate(timeout=30)
    assert long_run.returncode == 0 and out == b"finished\n", (out, err)
    # Fan-out skips a draining agent.
    ok(c.remsh("agent", "label", "add", "d1", "ci"))
    r = c.remsh("run", "--label", "ci", "--", "true")
    assert r.returncode == 255 and b"no online agent that takes work" in r.stderr, r
    c.stop_master()
    c.start_master()
    c.wait_online("d1", timeout=40)
    assert agent_json(c, "d1")["draining"] is True
    run_fails_with(c, "d1", "agent-draining")
    ok(c.remsh("agent", "resume", "d1"))
    r = c.remsh("run", "d1", "--", "echo", "back")
    assert r.returncode == 0 and r.stdout == b"back\n", r


@test
def revoke_disconnects_and_a_reconnect_is_refused(c: Cluster):
    c.start_master()
    c.add_agent("r1")
    busy = c.remsh_popen("run", "r1", "--", "sleep", "30", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until("the command to start", lambda: agent_json(c, "r1")["work"] != [])
    ok(c.remsh("agent", "revoke", "r1"))
    # The agent learns it at once, stops retrying and exits 3, which its systemd unit does not
    # restart (RestartPreventExitStatus=3; Restart=on-failure would retry it every 5 s).
    c.agents["r1"].wait(timeout=15)
    assert c.agents["r1"].returncode == 3
    assert "refused this agent's credentials" in c.log("agent-r1.log")
    busy.communicate(timeout=15)
    assert busy.returncode == 255, busy.returncode
    assert agent_json(c, "r1")["state"] == "revoked"
    run_fails_with(c, "r1", "agent-revoked")
    # Its credentials never work again.
    p = c.start_agent("r1", os.path.join(c.tmp, "agent-r1"))
    p.wait(timeout=15)
    assert p.returncode == 3
    assert agent_json(c, "r1")["state"] == "revoked"
    # Nothing but revoke applies to it any more; no "takes new work again".
    for args in (("resume", "r1"), ("rename", "r1", "r2"), ("drain", "r1")):
        r = c.remsh("agent", *args)
        assert r.returncode == 255 and b"remsh: agent-revoked: agent r1 is revoked" in r.stderr, (args, r)
    ok(c.remsh("agent", "revoke", "r1"))
    # A label is one word: the LABELS column and scripts split on blanks and commas.
    c.add_agent("l1")
    for bad in ("sp ace", "a,b", ""):
        r = c.remsh("agent", "label", "add", "l1", bad)
        assert r.returncode == 255 and b"bad-request" in r.stderr, (bad, r)


@test
def enrolling_again_needs_force_and_never_under_a_running_agent(c: Cluster):
    c.start_master()
    c.add_agent("e1")
    cfg = os.path.join(c.tmp, "agent-e1")
    saved = open(os.path.join(cfg, "agent.json")).read()
    # Under the running agent: refused, its credentials untouched.
    r, _, _ = c.enroll("e1", extra=["--force"])
    assert r.returncode == 1 and b"exists: an agent runs with" in r.stderr, r
    assert open(os.path.join(cfg, "agent.json")).read() == saved
    c.agents["e1"].terminate()
    c.agents["e1"].wait(timeout=15)
    # Stopped: still refused without --force; replaced with it.
    r, _, _ = c.enroll("e1")
    assert r.returncode == 1 and b"--force replaces it" in r.stderr, r
    assert open(os.path.join(cfg, "agent.json")).read() == saved
    r, _, _ = c.enroll("e1", extra=["--force"])
    assert r.returncode == 0, r
    assert open(os.path.join(cfg, "agent.json")).read() != saved


@test
def a_message_reaches_the_owner_and_is_kept_until_acknowledged(c: Cluster):
    c.start_master()
    c.add_agent("m1")
    ok(c.remsh("agent", "message", "m1", "please update to 0.2"))
    kept = os.path.join(c.tmp, "agent-m1", "messages.log")

    def kept_text():
        try:
            with open(kept) as f:
                return f.read()
        except FileNotFoundError:
            return ""
    wait_until("the message kept by the agent", lambda: "please update to 0.2" in kept_text())
    wait_until("the message in the agent's log", lambda: "MESSAGE from admin" in c.log("agent-m1.log"))
    wait_until("delivery recorded", lambda: agent_json(c, "m1")["messages"][0]["delivered_ms"])
    # An offline agent gets it when it comes back.
    c.agents["m1"].terminate()
    c.agents["m1"].wait(timeout=10)
    wait_until("m1 offline", lambda: c.agent_state("m1") == "offline")
    ok(c.remsh("agent", "message", "m1", "while you were away"))
    assert agent_json(c, "m1")["messages"][1]["delivered_ms"] is None
    c.start_agent("m1", os.path.join(c.tmp, "agent-m1"))
    wait_until("delivery after reconnect", lambda: agent_json(c, "m1")["messages"][1]["delivered_ms"])
    r = subprocess.run([binary("remsh-agent"), "messages", "--config-dir", os.path.join(c.tmp, "agent-m1")],
                       capture_output=True, timeout=10)
    assert b"please update" in r.stdout and b"while you were away" in r.stdout, r.stdout


@test
def graceful_leave_finishes_work_then_shows_left(c: Cluster):
    c.start_master()
    c.add_agent("g1")
    cfg = os.path.join(c.tmp, "agent-g1")
    long_run = c.remsh_popen("run", "g1", "--", "sh", "-c", "sleep 2; echo done",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until("the command to start", lambda: agent_json(c, "g1")["work"] != [])
    r = subprocess.run([binary("remsh-agent"), "stop", "--config-dir", cfg, "--graceful", "--no-wait"],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    wait_until("g1 leaving", lambda: agent_json(c, "g1")["leaving"])
    run_fails_with(c, "g1", "agent-draining")
    out, _ = long_run.communicate(timeout=30)
    assert long_run.returncode == 0 and out == b"done\n"
    c.agents["g1"].wait(timeout=15)
    assert c.agents["g1"].returncode == 0
    wait_until("g1 left", lambda: agent_json(c, "g1")["status"] == "offline (left)")
    # Coming back clears it.
    c.start_agent("g1", cfg)
    c.wait_online("g1")
    assert agent_json(c, "g1")["leaving"] is False


@test
def rename_reaches_the_agent_online_or_not(c: Cluster):
    c.start_master()
    c.add_agent("n1")
    ok(c.remsh("agent", "rename", "n1", "n2"))
    cfg = os.path.join(c.tmp, "agent-n1")

    def saved_name():
        with open(os.path.join(cfg, "agent.json")) as f:
            return json.load(f)["name"]
    wait_until("the agent saved its new name", lambda: saved_name() == "n2")
    r = c.remsh("run", "n2", "--", "echo", "renamed")
    assert r.stdout == b"renamed\n", r
    # Offline: it still presents n2, the master knows it as n3 and tells it.
    c.agents["n1"].terminate()
    c.agents["n1"].wait(timeout=10)
    wait_until("n2 offline", lambda: c.agent_state("n2") == "offline")
    ok(c.remsh("agent", "rename", "n2", "n3"))
    c.start_agent("n1", cfg)
    c.wait_online("n3")
    wait_until("the new name saved", lambda: saved_name() == "n3")
    r = c.remsh("agent", "rename", "n3", "bad/name")
    assert r.returncode == 255


@test
def owner_policy_is_enforced_by_the_agent(c: Cluster):
    c.start_master()
    r, cfg, work = c.enroll("o1", extra=["--admin", "Ann <ann@example.org>", "--description",
                                         "spare box", "--label", "gpu"])
    assert r.returncode == 0, r.stderr
    outside = os.path.join(c.tmp, "outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "f"), "w") as f:
        f.write("x")
    with open(os.path.join(cfg, "policy.json"), "w") as f:
        json.dump({"max_concurrent": 1, "deny_env": ["OWNER_SECRET"]}, f)
    # A policy (or config dir) other users may write is not the owner's: the agent refuses it.
    for path in (cfg, os.path.join(cfg, "policy.json")):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        os.chmod(path, mode | 0o002)
        r = subprocess.run([binary("remsh-agent"), "run", "--config-dir", cfg], capture_output=True, timeout=30)
        assert r.returncode == 1 and b"remsh-agent: insecure-config: " + path.encode() in r.stderr, r
        os.chmod(path, mode)
    args = [binary("remsh-agent"), "run", "--config-dir", cfg, "--deny-env", "OTHER_SECRET"]
    env = dict(os.environ, OWNER_SECRET="s3cret", OTHER_SECRET="x")
    log = open(os.path.join(c.tmp, "agent-o1.log"), "ab")
    p = subprocess.Popen(args, stdout=log, stderr=log, env=env)
    c.procs.append(p)
    c.wait_online("o1")
    a = agent_json(c, "o1")
    assert a["admin"] == "Ann <ann@example.org>" and a["description"] == "spare box", a
    assert "gpu" in a["labels"] and a["owner_labels"] == ["gpu"], a
    assert a["policy"]["max_concurrent"] == 1 and a["policy"]["allow_shell"] is False, a
    assert sorted(a["policy"]["deny_env"]) == ["OTHER_SECRET", "OWNER_SECRET"], a
    for key in ("cpus", "memory_mb", "disk_free_mb", "os", "arch"):
        assert key in a, (key, a)
    # Withheld variables never reach commands; asking for one is refused.
    r = c.remsh("run", "o1", "--", "sh", "-c", "echo ${OWNER_SECRET:-none} ${OTHER_SECRET:-none}")
    assert r.stdout == b"none none\n", r
    r = c.remsh("run", "o1", "--env", "OWNER_SECRET=1", "--", "true")
    assert r.returncode == 255 and b"policy-denied" in r.stderr, r
    # One command at a time: the master refuses a second (agent-busy).
    busy = c.remsh_popen("run", "o1", "--", "sleep", "3", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until("the command to start", lambda: agent_json(c, "o1")["work"] != [])
    r = c.remsh("run", "o1", "--", "true")
    assert r.returncode == 255 and b"agent-busy" in r.stderr, r
    busy.communicate(timeout=30)
    # Outside the work directory: refused (confinement is on by default).
    r = c.remsh("cp", f"o1:{outside}/f", os.path.join(c.tmp, "copy"))
    assert r.returncode == 255 and b"path-outside-workdir" in r.stderr, r


@test
def a_debug_shell_needs_the_owners_consent(c: Cluster):
    c.start_master()
    c.add_agent("closed")
    r, cfg, _ = c.enroll("open")
    assert r.returncode == 0
    log = open(os.path.join(c.tmp, "agent-open.log"), "ab")
    c.procs.append(subprocess.Popen([binary("remsh-agent"), "run", "--config-dir", cfg, "--allow-shell"],
                                    stdout=log, stderr=log))
    c.wait_online("open")
    r = c.remsh("shell", "closed", input=b"echo should-not-run\nexit 0\n")
    assert r.returncode == 255 and b"policy-denied" in r.stderr and b"should-not-run" not in r.stdout, r
    assert agent_json(c, "closed")["policy"]["allow_shell"] is False
    r = c.remsh("shell", "open", input=b"echo in-shell-$((40+2))\nexit 3\n")
    assert r.returncode == 3 and b"in-shell-42" in r.stdout, r
    assert agent_json(c, "open")["policy"]["allow_shell"] is True
    # A viewer may not open one even where the owner allows it.
    viewer = ok(c.remsh("apitoken", "create", "--role", "viewer")).strip().splitlines()[-1]
    env = c.env()
    env.pop("REMSH_TOKEN_FILE")
    env["REMSH_TOKEN"] = viewer
    r = subprocess.run([binary("remsh"), "shell", "open"], input=b"exit 0\n", env=env,
                       capture_output=True, timeout=30)
    assert r.returncode == 255 and b"forbidden" in r.stderr, r


def api(c, method, path, tok, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{c.api_port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if tok is not None:
        req.add_header("Authorization", f"Bearer {tok}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


@test
def every_api_route_checks_the_role(c: Cluster):
    c.start_master()
    c.add_agent("k1")
    tokens = {}
    for role in ("viewer", "operator"):
        tokens[role] = ok(c.remsh("apitoken", "create", "--role", role)).strip().splitlines()[-1]
    with open(os.path.join(c.state, "admin.token")) as f:
        tokens["admin"] = f.read().strip()
    routes = [  # method, path, the role it needs
        ("GET", "/api/v1/agents", "viewer"),
        ("GET", "/api/v1/agents/k1", "viewer"),
        ("GET", "/api/v1/commands", "viewer"),
        ("GET", "/api/v1/run", "operator"),
        ("GET", "/api/v1/fs", "operator"),
        ("POST", "/api/v1/tokens", "admin"),
        ("GET", "/api/v1/tokens", "admin"),
        ("DELETE", "/api/v1/tokens/t-none", "admin"),
        ("POST", "/api/v1/apitokens", "admin"),
        ("GET", "/api/v1/apitokens", "admin"),
        ("DELETE", "/api/v1/apitokens/k-none", "admin"),
        ("POST", "/api/v1/agents/k1/drain", "admin"),
        ("POST", "/api/v1/agents/k1/resume", "admin"),
        ("POST", "/api/v1/agents/k1/messages", "admin"),
        ("POST", "/api/v1/agents/k1/labels", "admin"),
    ]
    rank = {"viewer": 0, "operator": 1, "admin": 2}
    for method, path, need in routes:
        assert api(c, method, path, None) == 401, (method, path)
        assert api(c, method, path, "rmt_wrong") == 401, (method, path)
        for role, tok in tokens.items():
            status = api(c, method, path, tok, {} if method == "POST" else None)
            allowed = rank[role] >= rank[need]
            assert (status != 403) == allowed, (method, path, role, status)
    # Through the CLI: a viewer lists but cannot run.
    env = c.env()
    env.pop("REMSH_TOKEN_FILE")
    env["REMSH_TOKEN"] = tokens["viewer"]
    r = subprocess.run([binary("remsh"), "agents"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 0 and b"k1" in r.stdout, r
    r = subprocess.run([binary("remsh"), "run", "k1", "--", "true"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 255 and b"forbidden" in r.stderr, r
    env["REMSH_TOKEN"] = tokens["operator"]
    r = subprocess.run([binary("remsh"), "run", "k1", "--", "echo", "op"], env=env, capture_output=True, timeout=30)
    assert r.stdout == b"op\n", r
    r = subprocess.run([binary("remsh"), "agent", "drain", "k1"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 255 and b"forbidden" in r.stderr, r
    # A leaked token can be listed (never its secret) and deleted: it stops working at once.
    listed = ok(c.remsh("apitoken", "list"))
    assert listed.splitlines()[0].split() == ["ID", "ROLE", "CREATED"], listed
    ids = [line.split()[0] for line in listed.splitlines()[1:]]
    assert ids[0] == "admin" and len(ids) == 3 and "rmt_" not in listed, listed
    operator_id = next(line.split()[0] for line in listed.splitlines()[1:] if line.split()[1] == "operator")
    # A stream opened with it (a command reading its input) ends with it, too.
    talk = subprocess.Popen([binary("remsh"), "run", "k1", "--", "sh", "-c", "while read l; do echo got-$l; done"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c.procs.append(talk)
    talk.stdin.write(b"one\n")
    talk.stdin.flush()
    assert talk.stdout.readline() == b"got-one\n"
    ok(c.remsh("apitoken", "delete", operator_id))
    talk.wait(timeout=15)
    assert talk.returncode == 255, talk.returncode
    r = subprocess.run([binary("remsh"), "agents"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 255 and b"unauthorized" in r.stderr, r
    for gone, tag in ((operator_id, b"not-found"), ("admin", b"denied")):
        r = c.remsh("apitoken", "delete", gone)
        assert r.returncode == 255 and b"remsh: " + tag + b": " in r.stderr, (gone, r)


@test
def install_service_writes_a_unit_for_an_unprivileged_user(c: Cluster):
    c.start_master()
    r, cfg, _ = c.enroll("s1")
    assert r.returncode == 0
    units = os.path.join(c.tmp, "units")
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    r = subprocess.run([binary("remsh-agent"), "install-service", "--config-dir", cfg, "--user", user,
                        "--unit-dir", units, "--no-enable", "--run-arg=--max-concurrent=2"],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(units, "remsh-agent.service")) as f:
        unit = f.read()
    assert f"User={user}\n" in unit
    assert f'"{binary("remsh-agent")}" run --config-dir "{cfg}" "--max-concurrent=2"' in unit, unit
    assert "WantedBy=multi-user.target" in unit and "Restart=on-failure" in unit
    assert "RestartPreventExitStatus=3" in unit
    r = subprocess.run([binary("remsh-agent"), "install-service", "--config-dir", cfg, "--user",
                        "no-such-user-here", "--unit-dir", units, "--no-enable"], capture_output=True, timeout=10)
    assert r.returncode == 1 and b"no user" in r.stderr
    r = subprocess.run([binary("remsh-agent"), "uninstall-service", "--config-dir", cfg, "--unit-dir", units,
                        "--no-enable"], capture_output=True, timeout=10)
    assert r.returncode == 0 and not os.path.exists(os.path.join(units, "remsh-agent.service"))


if __name__ == "__main__":
    run_tests(TESTS)
