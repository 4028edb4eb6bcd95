"""End-to-end tests of `remsh shell`, driven through a real pseudo-terminal on the client
side (a small PTY driver: pty.fork + select), against a real master and agent on 127.0.0.1.
Every wait is bounded.
"""
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

from harness import Cluster, binary, run_tests, wait_until

TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


class Terminal:
    """`remsh ARGS...` on a pseudo-terminal of rows x cols; what it prints is collected."""

    def __init__(self, c, args, rows=24, cols=80, wrapper=None):
        self.out = b""
        env = c.env()
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            argv = [binary("remsh"), *args]
            if wrapper:  # a shell line around remsh, e.g. to look at the tty afterwards
                argv = ["/bin/sh", "-c", wrapper.replace("REMSH", " ".join(argv))]
            os.execve(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        self.status = None

    def send(self, data):
        os.write(self.fd, data)

    def read_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.out += chunk

    def expect(self, needle, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.out:
                return
            self.read_for(0.1)
        raise AssertionError(f"never saw {needle!r}; got {self.out[-500:]!r}")

    def resize(self, rows, cols):
        # Setting the size on the master side sends SIGWINCH to remsh (the foreground group).
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read_for(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self.read_for(0.2)
                return self.status
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"remsh did not exit; output {self.out[-500:]!r}")


def shell_agent(c, name="s1"):
    r, cfg, work = c.enroll(name)
    assert r.returncode == 0, r.stderr
    log = open(os.path.join(c.tmp, f"agent-{name}.log"), "ab")
    env = dict(os.environ, SHELL="/bin/sh")
    c.procs.append(subprocess.Popen([binary("remsh-agent"), "run", "--config-dir", cfg, "--allow-shell"],
                                    stdout=log, stderr=log, env=env))
    c.wait_online(name)
    return work


def sessions(c):
    r = c.remsh("shell-sessions", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["sessions"]


def recording(c, sid):
    r = c.remsh("shell-sessions", "replay", str(sid), "--raw")
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.decode().splitlines() if line.strip()]
    header = json.loads(lines[0])
    events = [json.loads(line) for line in lines[1:]]
    return header, events


@test
def an_interactive_shell_feels_like_ssh(c: Cluster):
    c.start_master()
    shell_agent(c)
    t = Terminal(c, ["shell", "s1"], rows=30, cols=100)
    t.send(b"PS1='remsh-prompt> '\r")
    t.expect(b"remsh-prompt> ")
    t.send(b"echo mark-$((40+2))\r")
    t.expect(b"mark-42")
    t.send(b"stty size\r")
    t.expect(b"30 100")
    t.resize(40, 120)
    time.sleep(0.3)
    t.send(b"stty size\r")
    t.expect(b"40 120")
    # Ctrl-C interrupts a running command, the shell stays.
    t.send(b"sleep 30; echo slept\r")
    time.sleep(0.5)
    t.send(b"\x03")
    t.send(b"echo after-interrupt\r")
    t.expect(b"after-interrupt", timeout=5)
    assert b"\r\nslept\r\n" not in t.out  # (the typed line itself is echoed)
    t.send(b"exit 7\r")
    assert t.wait() == 7, t.out[-300:]


@test
def without_a_terminal_it_reads_commands_from_stdin(c: Cluster):
    c.start_master()
    shell_agent(c)
    r = c.remsh("shell", "s1", input=b"echo in-shell-$((40+2))\nexit 3\n")
    assert r.returncode == 3 and b"in-shell-42" in r.stdout, r
    r = c.remsh("shell", "s1", "--", "sh", "-c", "echo args-$0", "ok")
    assert r.returncode == 0 and r.stdout == b"args-ok\n", r


@test
def the_local_terminal_is_restored_when_the_remote_side_dies(c: Cluster):
    c.start_master()
    shell_agent(c)
    t = Terminal(c, ["shell", "s1"], wrapper="REMSH; echo remsh-exit=$?; stty -a")
    t.send(b"echo ready-$((1+1))\r")
    t.expect(b"ready-2")
    t.send(b"kill -9 $$\r")  # the remote shell dies
    t.expect(b"remsh-exit=137")
    t.wait()
    modes = t.out.split(b"remsh-exit=137", 1)[1]
    # Cooked mode again: canonical input and echo on.
    assert b" icanon" in modes and b" echo" in modes and b"-icanon" not in modes, modes


@test
def tilde_dot_disconnects(c: Cluster):
    c.start_master()
    shell_agent(c)
    t = Terminal(c, ["shell", "s1"], wrapper="REMSH; echo remsh-exit=$?")
    t.send(b"echo ready-$((2+1))\r")
    t.expect(b"ready-3")
    t.send(b"sleep 60\r")
    time.sleep(0.3)
    t.send(b"\r~.")
    t.expect(b"remsh-exit=255", timeout=10)
    assert b"disconnected" in t.out
    t.wait()


@test
def sessions_are_recorded_in_asciicast_v2(c: Cluster):
    c.start_master()
    shell_agent(c)
    t = Terminal(c, ["shell", "s1"], rows=25, cols=90)
    t.send(b"echo recorded-$((6*7))\r")
    t.expect(b"recorded-42")
    t.resize(30, 95)
    time.sleep(0.3)
    t.send(b"exit 0\r")
    assert t.wait() == 0
    wait_until("the session ended", lambda: sessions(c) and sessions(c)[-1]["ended_ms"] is not None)
    s = sessions(c)[-1]
    assert s["agent"] == "s1" and s["opened_by"] == "admin" and s["exit_code"] == 0, s
    header, events = recording(c, s["id"])
    assert header["version"] == 2 and header["width"] == 90 and header["height"] == 25, header
    typed = "".join(e[2] for e in events if e[1] == "i")
    shown = "".join(e[2] for e in events if e[1] == "o")
    assert "echo recorded-$((6*7))" in typed, typed
    assert "recorded-42" in shown, shown
    assert ["r", "95x30"] in [e[1:] for e in events], events
    times = [e[0] for e in events]
    assert times == sorted(times)
    # The listing and a replay in the terminal.
    r = c.remsh("shell-sessions")
    assert r.returncode == 0 and b"s1" in r.stdout and b"admin" in r.stdout, r
    r = c.remsh("shell-sessions", "replay", str(s["id"]), "--speed", "100")
    assert r.returncode == 0 and b"recorded-42" in r.stdout, r
    # A plain command through `remsh run` is not a shell session.
    c.remsh("run", "s1", "--", "true")
    assert len(sessions(c)) == 1


@test
def a_shell_runs_beside_commands_with_flow_control(c: Cluster):
    c.start_master()
    work = shell_agent(c)
    with open(os.path.join(work, "big"), "wb") as f:
        f.write(os.urandom(1 << 20) * 64)  # 64 MiB
    busy = c.remsh_popen("run", "s1", "--", "sh", "-c", "sleep 2; echo beside", stdout=subprocess.PIPE)
    r = c.remsh("shell", "s1", input=b"cat big | wc -c\nexit 0\n")
    assert r.returncode == 0 and r.stdout.strip() == b"67108864", r
    out, _ = busy.communicate(timeout=30)
    assert out == b"beside\n"
    # The shell's own output, 64 MiB of it, reaches a slow reader intact.
    p = c.remsh_popen("shell", "s1", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdin.write(b"cat big\nexit 0\n")
    p.stdin.close()
    total = 0
    while True:
        chunk = p.stdout.read(1 << 16)
        if not chunk:
            break
        total += len(chunk)
        if total < (8 << 20):
            time.sleep(0.001)
    assert p.wait(timeout=60) == 0 and total == 64 << 20, total


@test
def a_shell_opens_where_a_job_ran_with_its_environment(c: Cluster):
    c.start_master()
    shell_agent(c)
    recipe = os.path.join(c.tmp, "job.yml")
    with open(recipe, "w") as f:
        f.write("name: env-job\nenv: {JOBVAR: from-the-job}\nsteps:\n  - run: echo ran\n")
    r = c.remsh("job", "submit", recipe, "--wait")
    assert r.returncode == 0, r
    jid = json.loads(c.remsh("job", "list", "--json").stdout)["jobs"][-1]["id"]
    r = c.remsh("shell", "--job", str(jid), input=b"echo var=$JOBVAR\nexit 0\n")
    assert r.returncode == 0 and b"var=from-the-job" in r.stdout, r
    r = c.remsh("shell", "--job", str(jid), "--env", "JOBVAR=mine", input=b"echo var=$JOBVAR\nexit 0\n")
    assert b"var=mine" in r.stdout, r
    r = c.remsh("shell", "s1", "--job", str(jid))
    assert r.returncode == 2, r


@test
def shells_are_denied_without_consent_or_role(c: Cluster):
    c.start_master()
    c.add_agent("closed")
    shell_agent(c, "open")
    r = c.remsh("shell", "closed", input=b"exit 0\n")
    assert r.returncode == 255 and b"policy-denied" in r.stderr, r
    viewer = c.remsh("apitoken", "create", "--role", "viewer").stdout.decode().strip().splitlines()[-1]
    env = c.env()
    env.pop("REMSH_TOKEN_FILE")
    env["REMSH_TOKEN"] = viewer
    for args in (["shell", "open"], ["shell-sessions"]):
        r = subprocess.run([binary("remsh"), *args], input=b"exit 0\n", env=env, capture_output=True, timeout=30)
        assert r.returncode == 255 and b"forbidden" in r.stderr, (args, r)
    # A shell's output, like its recording, is not for viewers; other commands' logs are.
    r = c.remsh("shell", "open", input=b"echo typed-secret\nexit 0\n")
    assert r.returncode == 0 and b"typed-secret" in r.stdout, r
    shell_id = c.remsh("shell-sessions").stdout.decode().split("\n")[1].split()[0]
    assert c.remsh("run", "open", "--", "echo", "plain").returncode == 0
    ids = [line.split()[0] for line in c.remsh("logs").stdout.decode().splitlines()[1:]]
    plain_id = max(ids, key=int)
    for follow in ([], ["-f"]):
        r = subprocess.run([binary("remsh"), "logs", *follow, shell_id], env=env, capture_output=True, timeout=30)
        assert r.returncode == 255 and b"forbidden" in r.stderr and b"typed-secret" not in r.stdout, r
    r = subprocess.run([binary("remsh"), "logs", plain_id], env=env, capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == b"plain\n", r
    # The scheme of the Authorization header is case-insensitive (RFC 7235).
    import urllib.request
    req = urllib.request.Request(c.env()["REMSH_MASTER"] + "/api/v1/agents", headers={"Authorization": "bearer " + viewer})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


if __name__ == "__main__":
    run_tests(TESTS)
