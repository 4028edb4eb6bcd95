"""End-to-end tests of the Windows agent under Wine: a real Linux remsh-master and CLI (from
the host build, REMSH_BUILD_DIR) and the cross-built remsh-agent.exe (REMSH_WINDOWS_AGENT)
run by Wine, on 127.0.0.1.

Usage: wine_e2e_test.py TEST_NAME. WINEPREFIX must name a prefix made for the run (scripts/test
makes one and keeps a `wineserver -p` alive for the whole stage).
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Cluster, run_tests, wait_until  # noqa: E402
from shell_test import Terminal  # noqa: E402

AGENT_EXE = os.environ.get("REMSH_WINDOWS_AGENT", "")
TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def windows_path(path):
    """Wine's Z: drive is the Linux root."""
    return "Z:" + path.replace("/", "\\")


def wine_env():
    env = dict(os.environ)
    env.setdefault("WINEDEBUG", "-all")
    env.setdefault("WINEDLLOVERRIDES", "mscoree,mshtml=")
    env.pop("DISPLAY", None)
    return env


class WineCluster(Cluster):
    """A Linux master with Windows agents run by Wine."""

    def enroll(self, name, token=None, extra=()):
        cfg = os.path.join(self.tmp, f"agent-{name}")
        work = os.path.join(self.tmp, f"work-{name}")
        os.makedirs(work, exist_ok=True)
        args = ["wine", AGENT_EXE, "enroll", token or self.token(), "--config-dir", windows_path(cfg),
                "--name", name, "--work-dir", windows_path(work), *extra]
        r = subprocess.run(args, capture_output=True, timeout=60, env=wine_env())
        return r, cfg, work

    def start_agent(self, name, cfg, extra=()):
        log = open(os.path.join(self.tmp, f"agent-{name}.log"), "ab")
        p = subprocess.Popen(["wine", AGENT_EXE, "run", "--config-dir", windows_path(cfg), *extra],
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=wine_env())
        self.procs.append(p)
        self.agents[name] = p
        return p

    def add_wine_agent(self, name, extra=()):
        r, cfg, work = self.enroll(name)
        assert r.returncode == 0, r.stderr.decode(errors="replace") + r.stdout.decode(errors="replace")
        self.start_agent(name, cfg, extra)
        self.wait_online(name, timeout=60)
        return work


def windows_processes(image):
    """Processes Wine runs whose command line holds `image` (Wine shows the Windows one)."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if image.lower() in line.lower() and "ps -eo" not in line]


@test
def commands_run_with_their_output_and_exit_codes(c: WineCluster):
    c.start_master()
    c.add_wine_agent("w1")
    r = c.remsh("run", "w1", "--", "cmd", "/c", "echo hi-from-windows& exit 3")
    assert r.returncode == 3, r
    assert r.stdout == b"hi-from-windows\r\n", r.stdout
    r = c.remsh("run", "w1", "--shell", "echo one&& echo two 1>&2&& exit /b 0")
    assert r.returncode == 0 and r.stdout == b"one\r\n" and r.stderr.startswith(b"two"), r
    # stdin flows to the command, its end is the command's end of file.
    r = c.remsh("run", "w1", "--", "find", "p", input=b"pear\r\nfig\r\nplum\r\n")
    assert r.returncode == 0 and r.stdout == b"pear\r\nplum\r\n", r
    r = c.remsh("run", "w1", "--", "no-such-program-remsh.exe")
    assert r.returncode != 0 and b"exec-failed" in r.stderr, r
    r = c.remsh("agents", "--json")
    facts = next(a for a in json.loads(r.stdout)["agents"] if a["name"] == "w1")
    assert "Windows" in json.dumps(facts), facts


@test
def an_interrupt_ends_a_three_level_process_tree(c: WineCluster):
    c.start_master()
    c.add_wine_agent("w1")
    before = len(windows_processes("ping -n 120"))
    p = c.remsh_popen("run", "w1", "--", "cmd", "/d", "/c", "cmd /d /c ping -n 120 127.0.0.1",
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until("ping to run", lambda: len(windows_processes("ping -n 120")) > before, timeout=30)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=30)
    assert p.returncode != 0, p.returncode
    wait_until("the whole tree to end", lambda: len(windows_processes("ping -n 120")) == before, timeout=20)


@test
def unicode_file_names_and_arguments_round_trip(c: WineCluster):
    c.start_master()
    work = c.add_wine_agent("w1")
    name = "donn\u00e9es-\u65e5\u672c.txt"
    local = os.path.join(c.tmp, "local.bin")
    data = os.urandom(300_000)
    with open(local, "wb") as f:
        f.write(data)
    r = c.remsh("cp", local, f"w1:{name}")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(work, name), "rb") as f:  # Wine keeps the name as UTF-8 on Linux
        assert f.read() == data
    # The name reaches a command intact as an argument (UTF-8 -> UTF-16 -> the file system).
    r = c.remsh("run", "w1", "--", "cmd", "/c", f"if exist {name} (echo present) else (echo absent)")
    assert r.stdout == b"present\r\n", r
    back = os.path.join(c.tmp, "back.bin")
    r = c.remsh("cp", f"w1:{name}", back)
    assert r.returncode == 0, r.stderr
    with open(back, "rb") as f:
        assert f.read() == data
    r = c.remsh("ls", "w1:")
    assert name.encode() in r.stdout, r
    # Names Windows would take for a stream or a device are refused, never half-used.
    for bad in ("w1:file.txt:hidden", "w1:nul.txt", "w1:dir./x"):
        r = c.remsh("cp", local, bad)
        assert r.returncode != 0 and b"denied" in r.stderr, (bad, r)
    assert sorted(os.listdir(work)) == [name], os.listdir(work)


@test
def tls_pins_the_master_and_refuses_another(c: WineCluster):
    c.start_master()
    r, cfg, _ = c.enroll("w1")
    assert r.returncode == 0, r.stderr
    path = os.path.join(cfg, "agent.json")
    with open(path) as f:
        config = json.load(f)
    good = config["fingerprint"]
    config["fingerprint"] = ("0" if good[0] != "0" else "1") + good[1:]
    with open(path, "w") as f:
        json.dump(config, f)
    c.start_agent("w1", cfg)
    log = os.path.join(c.tmp, "agent-w1.log")
    wait_until("the mismatch to be logged", lambda: b"fingerprint mismatch" in open(log, "rb").read(), timeout=60)
    assert c.agent_state("w1") != "online"
    c.agents["w1"].kill()
    c.agents["w1"].wait(timeout=20)
    config["fingerprint"] = good
    with open(path, "w") as f:
        json.dump(config, f)
    c.start_agent("w1", cfg)
    c.wait_online("w1", timeout=60)


@test
def a_debug_shell_runs_through_conpty(c: WineCluster):
    c.start_master()
    c.add_wine_agent("w1", extra=("--allow-shell",))
    t = Terminal(c, ["shell", "w1"], rows=30, cols=100)
    t.expect(b">", timeout=30)  # cmd.exe's prompt
    t.send(b"echo mark-%COMSPEC:~0,0%42\r")
    t.expect(b"mark-42", timeout=20)
    t.send(b"exit 7\r")
    assert t.wait(timeout=30) == 7, t.out[-300:]


@test
def the_agent_stops_on_request(c: WineCluster):
    c.start_master()
    c.add_wine_agent("w1")
    cfg = os.path.join(c.tmp, "agent-w1")
    r = subprocess.run(["wine", AGENT_EXE, "stop", "--config-dir", windows_path(cfg)], capture_output=True,
                       timeout=60, env=wine_env())
    assert r.returncode == 0, r
    c.agents["w1"].wait(timeout=30)
    wait_until("the master to see it leave", lambda: c.agent_state("w1") != "online", timeout=30)


@test
def the_agent_runs_as_a_windows_service(c: WineCluster):
    c.start_master()
    r, cfg, _ = c.enroll("w1")
    assert r.returncode == 0, r.stderr
    name = f"remsh-agent-test-{os.getpid()}"
    wine = ["wine", AGENT_EXE]
    r = subprocess.run([*wine, "install-service", "--config-dir", windows_path(cfg), "--unit-name", name,
                        "--run-arg=--allow-shell"], capture_output=True, timeout=60, env=wine_env())
    try:
        assert r.returncode == 0, r
        assert b"started" in r.stdout, r
        c.wait_online("w1", timeout=60)
        r = c.remsh("run", "w1", "--", "cmd", "/c", "echo from-the-service& exit 4")
        assert r.returncode == 4 and r.stdout == b"from-the-service\r\n", r
        # Installing the same name twice is refused; --user has no meaning there.
        r = subprocess.run([*wine, "install-service", "--config-dir", windows_path(cfg), "--unit-name", name],
                           capture_output=True, timeout=60, env=wine_env())
        assert r.returncode != 0, r
    finally:
        r = subprocess.run([*wine, "uninstall-service", "--config-dir", windows_path(cfg), "--unit-name", name],
                           capture_output=True, timeout=90, env=wine_env())
    assert r.returncode == 0 and b"stopped" in r.stdout and b"removed" in r.stdout, r
    wait_until("the master to see it leave", lambda: c.agent_state("w1") != "online", timeout=30)
    with open(os.path.join(cfg, "agent.log"), "rb") as f:
        log = f.read()
    assert b"starting as w1" in log, log[-500:]
    r = subprocess.run(["wine", "sc", "query", name], capture_output=True, timeout=60, env=wine_env())
    assert b"RUNNING" not in r.stdout, r


if __name__ == "__main__":
    if not AGENT_EXE or not os.path.isfile(AGENT_EXE):
        sys.exit("REMSH_WINDOWS_AGENT must name the cross-built remsh-agent.exe")
    run_tests(TESTS, cluster=WineCluster)
