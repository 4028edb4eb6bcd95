"""Conformance suite: drives an agent implementation through a real master over the
documented protocol (docs/protocol.md) and reports, section by section, what it passes.
The checks of error tags and limits (sections 3, 7.1, 12, 13 and one of 8) talk to the agent
through a scripted master instead (scripted_master.py), which enrols the agent itself and
sends what a real master never would; rename, copy, chmod and hash go through the master's
fs WebSocket (fs_api.py), as the CLI has no command for them.

  conformance.py [--agent-cmd "python3 contrib/python-agent/remsh_agent.py"] [--only SECTION]

Without --agent-cmd the C++ agent of the build (REMSH_BUILD_DIR) is tested. The agent must
take the same command line as the C++ one: `enroll TOKEN --config-dir D --name N --work-dir
W` and `run --config-dir D`. Checks of a feature the agent does not declare in its hello
(capabilities: resume, pty, codecs) are reported as "not declared", not as failures. Exit
code: 0 when every check that applies passes. Loopback only; every wait is bounded.
"""
import argparse
import base64
import hashlib
import json
import os
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import Cluster, wait_until  # noqa: E402
from relay import Relay  # noqa: E402
from fs_api import fs_op  # noqa: E402
from scripted_master import ACK, CONTROL, DATA, EOS, PING, WINDOW, ScriptedCluster  # noqa: E402

CHECKS = []


class NotDeclared(Exception):
    pass


def check(section, title, needs=None, scripted=False):
    """`scripted`: the check talks to the agent through the scripted master (scripted_master.py)
    instead of a real one."""
    def wrap(fn):
        CHECKS.append((section, title, needs, scripted, fn))
        return fn
    return wrap


class AgentCluster(Cluster):
    """A cluster whose agents are started with an arbitrary command."""

    def __init__(self, agent_cmd, master_args=(), relay=False):
        super().__init__()
        self.agent_cmd = agent_cmd
        self.master_args = list(master_args)
        self.relay = Relay(self.agent_port) if relay else None

    def start_master(self):
        self.master_extra = list(self.master_args)
        if self.relay:
            self.master_extra += ["--advertise", f"127.0.0.1:{self.relay.port}"]
        super().start_master()

    def enroll(self, name, token=None, extra=()):
        cfg = os.path.join(self.tmp, f"agent-{name}")
        work = os.path.join(self.tmp, f"work-{name}")
        os.makedirs(work, exist_ok=True)
        args = [*self.agent_cmd, "enroll", token or self.token(), "--config-dir", cfg, "--name", name,
                "--work-dir", work, *extra]
        r = subprocess.run(args, capture_output=True, timeout=30)
        return r, cfg, work

    def start_agent(self, name, cfg):
        log = open(os.path.join(self.tmp, f"agent-{name}.log"), "ab")
        p = subprocess.Popen([*self.agent_cmd, "run", "--config-dir", cfg], stdout=log, stderr=log)
        self.procs.append(p)
        self.agents[name] = p
        return p

    def close(self):
        if self.relay:
            self.relay.close()
        super().close()


def capabilities(c, name):
    r = c.remsh("agent", "show", name, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout).get("facts", {}).get("capabilities", {})


def run(c, *args, input=None, timeout=120):
    return c.remsh("run", "a1", *args, input=input, timeout=timeout)


# ---------------------------------------------------------------- 6 handshake
@check("6", "enrolment, authentication and the hello's capabilities")
def handshake(c, caps):
    assert "deflate" in caps.get("codecs", []), caps
    for key, lo, hi in (("max_channels", 1, 1024), ("max_frame", 65536, 1048576), ("window", 65536, 2**31 - 1),
                        ("replay_bytes", 1048576, 2**30), ("keepalive_s", 1, 3600)):
        assert lo <= caps.get(key, -1) <= hi, (key, caps)


@check("6.3", "a restarted agent authenticates with its stored secret")
def reauth(c, caps):
    p = c.agents["a1"]
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=15)
    wait_until("a1 offline", lambda: c.agent_state("a1") == "offline", 20)
    c.start_agent("a1", os.path.join(c.tmp, "agent-a1"))
    c.wait_online("a1")


@check("6.3", "a revoked agent is refused")
def revoked(c, caps):
    assert c.remsh("agent", "revoke", "a1").returncode == 0
    time.sleep(1.0)
    assert c.agent_state("a1") in ("revoked", "offline"), c.agent_state("a1")
    assert run(c, "--", "true").returncode != 0


# ---------------------------------------------------------------- 9.5 exec
@check("9.5", "output streams, exit codes and signals")
def exec_basics(c, caps):
    r = run(c, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n"), r
    r = run(c, "--", "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r
    r = run(c, "--shell", "printf '%s' \"$X\" && pwd", "--env", "X=v a l", "--cwd", "sub")
    assert r.returncode != 0 or r.stdout.startswith(b"v a l"), r  # sub may not exist yet
    assert c.remsh("mkdir", "a1:sub").returncode == 0
    r = run(c, "--shell", "printf '%s:' \"$X\"; pwd", "--env", "X=v a l", "--cwd", "sub")
    assert r.returncode == 0 and r.stdout.startswith(b"v a l:") and r.stdout.strip().endswith(b"/sub"), r


@check("9.5", "stdin reaches the command and every byte value comes back")
def exec_stdin(c, caps):
    data = bytes(range(256)) * 4096
    r = run(c, "--", "cat", input=data)
    assert r.returncode == 0 and r.stdout == data, (r.returncode, len(r.stdout))


@check("9.5", "a missing program is exec-failed (127)")
def exec_missing(c, caps):
    r = run(c, "--", "/no/such/program")
    assert r.returncode == 127 and b"exec-failed" in r.stderr, r


@check("9.5", "10 MB of output byte-exact, live and stored")
def exec_big(c, caps):
    r = run(c, "--", "sh", "-c", "seq 1 1300000")
    expected = subprocess.run(["seq", "1", "1300000"], capture_output=True).stdout
    assert r.returncode == 0 and hashlib.sha256(r.stdout).digest() == hashlib.sha256(expected).digest(), len(r.stdout)
    last = c.remsh("logs").stdout.decode().splitlines()[-1].split()[0]
    stored = c.remsh("logs", last).stdout
    assert stored == expected, len(stored)


@check("9.5", "an interrupt ends the whole process tree")
def exec_interrupt(c, caps):
    # Unusual durations: the processes are found by name, machine-wide.
    p = c.remsh_popen("run", "a1", "--", "sh", "-c", "sleep 3171 & sleep 3172 & echo started; wait",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until("the tree to start", lambda: subprocess.run(["pgrep", "-f", "sleep 317[12]"], capture_output=True).returncode == 0, 20)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=30)
    wait_until("the tree to end", lambda: subprocess.run(["pgrep", "-f", "sleep 317[12]"], capture_output=True).returncode != 0, 20)


@check("9.5", "a timeout kills the command")
def exec_timeout(c, caps):
    start = time.monotonic()
    r = run(c, "--timeout", "1", "--", "sleep", "30")
    assert r.returncode != 0 and time.monotonic() - start < 15, r


# ---------------------------------------------------------------- 9.6 fs
@check("9.6", "stat, mkdir -p, list, remove")
def fs_basics(c, caps):
    r = c.remsh("stat", "a1:nothing-here")
    assert r.returncode == 255 and b"not-found" in r.stderr, r  # absent is an answer (exists: false)
    assert c.remsh("mkdir", "-p", "a1:d1/d2/d3").returncode == 0
    r = c.remsh("ls", "a1:d1/d2")
    assert r.returncode == 0 and b"d3" in r.stdout, r
    assert c.remsh("rm", "-r", "a1:d1").returncode == 0
    assert c.remsh("rm", "-rf", "a1:d1").returncode == 0  # already absent: the agent says removed 0
    r = c.remsh("ls", "a1:d1")
    assert r.returncode == 255 and b"not-found" in r.stderr, r


@check("9.6", "write and read a 3 MB file, byte-exact (size and sha256 verified)")
def fs_read_write(c, caps):
    src = os.path.join(c.tmp, "blob")
    with open(src, "wb") as f:
        f.write(os.urandom(3 << 20))
    assert c.remsh("cp", src, "a1:blob").returncode == 0
    back = os.path.join(c.tmp, "back")
    r = c.remsh("cp", "a1:blob", back)
    assert r.returncode == 0, r
    with open(src, "rb") as a, open(back, "rb") as b:
        assert a.read() == b.read()


@check("9.6", "manifest: sync sends only what differs")
def fs_manifest(c, caps):
    local = os.path.join(c.tmp, "tree")
    os.makedirs(local)
    for i in range(20):
        with open(os.path.join(local, f"f{i}"), "w") as f:
            f.write(f"file {i}\n")
    assert c.remsh("sync", local, "a1:tree").returncode == 0
    with open(os.path.join(local, "f3"), "w") as f:
        f.write("changed\n")
    r = c.remsh("sync", local, "a1:tree")
    assert r.returncode == 0 and b"sent 1 of 20" in r.stdout, r


@check("9.6", "paths outside the work directory are refused")
def fs_confinement(c, caps):
    work = os.path.join(c.tmp, "work-a1")
    os.symlink("/etc", os.path.join(work, "out"))
    for target in ("a1:../x", "a1:/etc/passwd", "a1:out/passwd"):
        r = c.remsh("cp", target, os.path.join(c.tmp, "stolen"))
        assert r.returncode != 0 and b"path-outside-workdir" in r.stderr, (target, r)
    r = run(c, "--cwd", "..", "--", "pwd")
    assert r.returncode != 0 and b"path-outside-workdir" in r.stderr, r


def fs(c, op, path=None, **fields):
    """One fs operation through the master's API (docs/api.md `GET /api/v1/fs`)."""
    with open(os.path.join(c.state, "admin.token")) as f:
        token = f.read().strip()
    request = {"agent": "a1", "op": op, **({"path": path} if path is not None else {}), **fields}
    return fs_op(c.api_port, token, request)


def fs_fails(c, tag, op, path=None, **fields):
    a = fs(c, op, path, **fields)
    assert a.tag == tag, (op, path, fields, f"expected {tag}", a)


def put(work, rel, data=b"", mode=0o644):
    full = os.path.join(work, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    os.chmod(full, mode)
    return full


def content(work, rel):
    with open(os.path.join(work, rel), "rb") as f:
        return f.read()


@check("9.6", "rename: a file, over an existing file, with parents; not-found, path-outside-workdir")
def fs_rename(c, caps):
    work = os.path.join(c.tmp, "work-a1")
    put(work, "a", b"A")
    put(work, "b", b"B")
    assert fs(c, "rename", "a", to="b").result == {}
    assert content(work, "b") == b"A" and not os.path.lexists(os.path.join(work, "a"))
    fs_fails(c, "not-found", "rename", "a", to="c")
    fs_fails(c, "not-found", "rename", "b", to="new/dir/b")  # no parents
    assert fs(c, "rename", "b", to="new/dir/b", parents=True).result == {}
    assert content(work, "new/dir/b") == b"A"
    fs_fails(c, "path-outside-workdir", "rename", "new/dir/b", to="../escaped")
    fs_fails(c, "path-outside-workdir", "rename", "../outside", to="x")
    assert os.path.exists(os.path.join(work, "new/dir/b"))
    os.symlink("new", os.path.join(work, "link"))
    assert fs(c, "rename", "link", to="link2").result == {}  # the link itself moves, not its target
    assert os.readlink(os.path.join(work, "link2")) == "new" and os.path.isdir(os.path.join(work, "new"))
    os.mkdir(os.path.join(work, "full"))
    put(work, "full/x")
    fs_fails(c, "is-a-directory", "rename", "new/dir/b", to="full")


@check("9.6", "copy: a file with its mode, a tree with a symlink as a link; exists, denied, not-found, path-outside-workdir")
def fs_copy(c, caps):
    work = os.path.join(c.tmp, "work-a1")
    put(work, "f", b"data\n", 0o751)
    a = fs(c, "copy", "f", to="g")
    assert a.result == {"files": 1}, a
    assert content(work, "g") == b"data\n" and os.stat(os.path.join(work, "g")).st_mode & 0o777 == 0o751
    put(work, "t/x", b"x")
    put(work, "t/sub/y", b"y", 0o600)
    os.mkdir(os.path.join(work, "t/empty"))
    os.symlink("x", os.path.join(work, "t/l"))
    a = fs(c, "copy", "t", to="u/t2", parents=True)
    assert a.result == {"files": 6}, a  # every entry: t, x, sub, sub/y, empty and the link l
    assert content(work, "u/t2/sub/y") == b"y" and os.readlink(os.path.join(work, "u/t2/l")) == "x"
    assert os.path.isdir(os.path.join(work, "u/t2/empty"))
    assert os.stat(os.path.join(work, "u/t2/sub/y")).st_mode & 0o777 == 0o600
    fs_fails(c, "exists", "copy", "f", to="g")  # unlike rename, copy never replaces
    fs_fails(c, "exists", "copy", "t", to="u/t2")
    fs_fails(c, "denied", "copy", "t", to="t/inside")
    fs_fails(c, "not-found", "copy", "missing", to="m2")
    fs_fails(c, "not-found", "copy", "f", to="no/such/dir/f")
    fs_fails(c, "path-outside-workdir", "copy", "f", to="../stolen")
    fs_fails(c, "path-outside-workdir", "copy", "/etc/hostname", to="h")


@check("9.6", "chmod and hash; not-found, is-a-directory, not-a-directory")
def fs_chmod_hash(c, caps):
    work = os.path.join(c.tmp, "work-a1")
    data = os.urandom(300000)
    put(work, "h", data)
    assert fs(c, "chmod", "h", mode=0o600).result == {}
    assert os.stat(os.path.join(work, "h")).st_mode & 0o7777 == 0o600
    fs_fails(c, "not-found", "chmod", "missing", mode=0o600)
    a = fs(c, "hash", "h")
    assert a.result == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}, a
    os.mkdir(os.path.join(work, "d"))
    fs_fails(c, "is-a-directory", "hash", "d")
    fs_fails(c, "not-found", "hash", "missing")
    fs_fails(c, "not-a-directory", "hash", "h/x")
    fs_fails(c, "path-outside-workdir", "hash", "../x")


@check("9.6", "remove and mkdir: denied for the work directory itself, exists, not-a-directory")
def fs_remove_mkdir(c, caps):
    work = os.path.join(c.tmp, "work-a1")
    put(work, "r1")
    put(work, "r2/x")
    fs_fails(c, "denied", "remove", ".")
    fs_fails(c, "denied", "remove", paths=["r1", "."])  # whether r1 went first is the agent's business
    assert os.path.isdir(work)
    put(work, "r1")
    fs_fails(c, "path-outside-workdir", "remove", "../x")
    a = fs(c, "remove", paths=["r1", "r2", "absent"])
    assert a.result == {"removed": 2} and not os.path.lexists(os.path.join(work, "r2")), a
    put(work, "file")
    fs_fails(c, "exists", "mkdir", "file")
    fs_fails(c, "not-a-directory", "mkdir", "file/sub")
    assert fs(c, "mkdir", "m", mode=0o700).result == {"created": True}
    assert os.stat(os.path.join(work, "m")).st_mode & 0o777 == 0o700
    assert fs(c, "mkdir", "m").result == {"created": False}


@check("9.6", "names that are not UTF-8: listed as path_b64/target_b64, named by path_b64, to_b64, paths_b64")
def fs_byte_names(c, caps):
    work = os.fsencode(os.path.join(c.tmp, "work-a1"))
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
    put(os.fsdecode(work), "bytes/ok.txt")
    with open(os.path.join(work, b"bytes", b"caf\xe9"), "wb") as f:
        f.write(b"x")
    os.symlink(b"tgt\xff", os.path.join(work, b"bytes", b"ln"))
    a = fs(c, "list", "bytes")
    assert a.tag is None, a
    entries = [json.loads(line) for line in a.data.decode().splitlines()]  # UTF-8 JSON, every line
    names = [base64.urlsafe_b64decode(e["path_b64"] + "==") if "path_b64" in e else e["path"].encode()
             for e in entries]
    assert names == [b"caf\xe9", b"ln", b"ok.txt"] and "path" not in entries[0], entries
    assert entries[1].get("target_b64") == b64(b"tgt\xff") and "target" not in entries[1], entries
    a = fs(c, "stat", path_b64=b64(b"bytes/caf\xe9"))
    assert a.result and a.result["exists"] and a.result["entry"]["size"] == 1, a
    assert fs(c, "rename", path_b64=b64(b"bytes/caf\xe9"), to_b64=b64(b"bytes/\xe8")).tag is None
    assert os.path.exists(os.path.join(work, b"bytes", b"\xe8"))
    a = fs(c, "remove", paths_b64=[b64(b"bytes/\xe8"), b64(b"bytes/ln"), b64(b"bytes/absent\xff")])
    assert a.result == {"removed": 2} and os.listdir(os.path.join(work, b"bytes")) == [b"ok.txt"], a


# ---------------------------------------------------------------- 9.7 tree archive
@check("9.7", "a tree round-trips: empty dirs, symlinks, modes, non-ASCII names")
def tree_archive(c, caps):
    local = os.path.join(c.tmp, "src-tree")
    os.makedirs(os.path.join(local, "empty"))
    os.makedirs(os.path.join(local, "sub"))
    with open(os.path.join(local, "sub", "naïve ✓"), "wb") as f:
        f.write(os.urandom(70000))
    with open(os.path.join(local, "run.sh"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(os.path.join(local, "run.sh"), 0o755)
    os.symlink("sub", os.path.join(local, "link"))
    r = c.remsh("cp", "-r", local, "a1:copied")
    assert r.returncode == 0, r
    back = os.path.join(c.tmp, "back-tree")
    r = c.remsh("cp", "-r", "a1:copied", back)
    assert r.returncode == 0, r
    for rel in ("empty", "sub/naïve ✓", "run.sh", "link"):
        a, b = os.path.join(local, rel), os.path.join(back, rel)
        assert os.path.lexists(b), rel
        if os.path.islink(a):
            assert os.readlink(a) == os.readlink(b)
        elif os.path.isfile(a):
            assert open(a, "rb").read() == open(b, "rb").read()
            assert os.access(a, os.X_OK) == os.access(b, os.X_OK), rel


# ---------------------------------------------------------------- 10 compression
@check("10.2", "compressible output in each codec both sides have")
def codecs(c, caps):
    expected = subprocess.run(["seq", "1", "300000"], capture_output=True).stdout
    r = run(c, "--", "seq", "1", "300000")
    assert r.returncode == 0 and r.stdout == expected, len(r.stdout)


# ---------------------------------------------------------------- 11 flow control
@check("11", "a slow reader: 40 MB arrive whole, the agent keeps within credit")
def flow_control(c, caps):
    p = c.remsh_popen("run", "a1", "--", "head", "-c", "40000000", "/dev/zero", stdout=subprocess.PIPE)
    total = 0
    time.sleep(2.0)  # nobody reads: the agent must wait for credit, not be cut off
    while True:
        chunk = p.stdout.read(1 << 16)
        if not chunk:
            break
        total += len(chunk)
    assert p.wait(timeout=60) == 0 and total == 40000000, total
    assert c.agent_state("a1") == "online"


# ---------------------------------------------------------------- 8 keepalive
@check("8", "an idle agent keeps its session (answers pings) past the keepalive interval")
def keepalive(c, caps):
    start = c.remsh("agent", "show", "a1", "--json")
    since = json.loads(start.stdout)["connected_since_ms"]
    time.sleep(17)  # the master pings after 15 s of silence
    now = json.loads(c.remsh("agent", "show", "a1", "--json").stdout)
    assert now["state"] == "online" and now["connected_since_ms"] == since, now
    assert run(c, "--", "true").returncode == 0


# ---------------------------------------------------------------- 7.3 resume
@check("7.3", "connections cut mid-stream: the session resumes, nothing lost", needs="resume")
def resume(c, caps):
    expected = subprocess.run(["seq", "1", "3000000"], capture_output=True).stdout
    p = c.remsh_popen("run", "a1", "--", "sh", "-c", "seq 1 3000000 | while read l; do echo $l; done",
                      stdout=subprocess.PIPE)
    out = bytearray()
    cuts = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], 0.3)
        if ready:
            chunk = os.read(p.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            out += chunk
            if cuts < 3 and len(out) > (cuts + 1) * 2000000:
                cuts += c.relay.cut() and 1
    assert p.wait(timeout=60) == 0, "the command failed"
    assert cuts == 3 and bytes(out) == expected, (cuts, len(out), len(expected))


# ---------------------------------------------------------------- the scripted master (scripted_master.py)
# These checks speak to the agent as a master that misbehaves on purpose. Each connection
# error needs a new connection, so connect() restarts the agent.
def open_exec(p, chan, argv, **fields):
    p.control(chan, {"type": "open", "kind": "exec", "argv": argv, **fields})
    return p.expect_msg(chan, "opened")


def fs_works(p, chan):
    """A new channel still works: an fs stat runs to its result and close."""
    p.control(chan, {"type": "open", "kind": "fs", "op": "stat", "path": "."})
    p.expect_msg(chan, "opened")
    assert p.expect_msg(chan, "result").get("exists") is True
    p.expect_msg(chan, "close")
    p.control(chan, {"type": "close"})


def process_gone(pid, timeout=10):
    def gone():
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    wait_until(f"process {pid} to end", gone, timeout)


def failed_open(p, chan, tag):
    """A malformed open for a free id: 9.4 says SHOULD fail that channel (error + close) and
    allows a connection error; either way with `tag`."""
    f = p.expect(f"an error for the open of channel {chan}", lambda f: f[0] == CONTROL and f[3] in (0, chan)
                 and json.loads(f[5]).get("type") == "error")
    m = json.loads(f[5])
    assert m.get("tag") == tag, f"expected {tag}, got {m}"
    if f[3] == 0:
        p.gone(5)
        return False
    p.expect_msg(chan, "close")
    p.control(chan, {"type": "close"})
    return True


@check("3", "a master greeting of a higher version is answered in version 1; a bad one closes silently",
       scripted=True)
def greeting(c, caps):
    c.master.greeting = b"remsh\0\x00\x07"
    p = c.connect()
    p.alive()
    fs_works(p, 1)
    for bad in (b"HTTP/1.1", b"remsh\0\x00\x00"):
        c.master.greeting = bad
        p = c.connect(finish=False)
        frames = p.gone(10)
        errors = [f for f in frames if f[0] == CONTROL and json.loads(f[5]).get("type") == "error"]
        assert not errors, f"bad-banner sends nothing (3), got {errors}"


@check("7.1", "frames are numbered from 1; a duplicate seq is dropped; an idle agent ACKs within 1 s (7.2)",
       scripted=True)
def sequencing(c, caps):
    p = c.connect()
    opened = open_exec(p, 1, ["sleep", "300"])
    open_frame = json.dumps({"type": "open", "kind": "exec", "argv": ["sleep", "301"]}).encode()
    p.control(1, open_frame, seq=1)  # seq 1 again: a duplicate from a replay, not a second open
    p.alive()
    fs_works(p, 3)
    p.expect("an ACK of every frame sent", lambda f: f[0] == ACK and struct.unpack(">Q", f[5])[0] == p.seq_out, 2.5)
    p.control(1, {"type": "close"})
    p.expect_msg(1, "close")
    process_gone(opened["pid"])


@check("8", "with keepalive_s 1 the agent PINGs when idle, and declares a silent master dead", scripted=True)
def keepalive_scripted(c, caps):
    c.master.keepalive_s, c.master.dead_after_s = 1, 3
    p = c.connect()
    p.auto_pong = False
    start = time.monotonic()
    p.expect("a PING", lambda f: f[0] == PING, 3.0)
    p.conn_error("keepalive-timeout", timeout=6.0)
    assert time.monotonic() - start >= 2.0, "declared dead too early"


@check("12", "bad-channel: DATA, WINDOW or a message for a channel never opened ends the connection (9.4)",
       scripted=True)
def bad_channel(c, caps):
    for send in (lambda p: p.window(7, 1000), lambda p: p.send(DATA, 7, b"x", stream=0),
                 lambda p: p.control(9, {"type": "signal", "signal": "TERM"})):
        p = c.connect()
        send(p)
        p.conn_error("bad-channel")


@check("12", "bad-message: an exec open with a NUL in argv, shell or env fails that channel only (9.5)",
       scripted=True)
def nul_in_exec(c, caps):
    p = c.connect()
    opens = ({"argv": ["echo", "a\0b"]}, {"shell": "echo a\0b"}, {"argv": ["true"], "env": {"A\0B": "1"}},
             {"argv": ["true"], "env": {"A": "1\0"}})
    for n, fields in enumerate(opens):
        p.control(2 * n + 1, {"type": "open", "kind": "exec", **fields})
        p.chan_error(2 * n + 1, "bad-message")
    p.alive()
    fs_works(p, 2 * len(opens) + 1)


@check("12", "unknown-message: on a channel it ends that channel and its process; on channel 0 the connection",
       scripted=True)
def unknown_message(c, caps):
    p = c.connect()
    pid = open_exec(p, 1, ["sleep", "300"])["pid"]
    p.control(1, {"type": "no-such-message"})
    p.chan_error(1, "unknown-message")
    process_gone(pid)
    p.alive()
    fs_works(p, 3)
    p = c.connect()
    p.control(0, {"type": "no-such-message"})
    p.conn_error("unknown-message")


@check("12", "unsupported: an unknown channel kind or fs op fails that channel only", scripted=True)
def unsupported(c, caps):
    p = c.connect()
    p.control(1, {"type": "open", "kind": "teleport"})
    p.chan_error(1, "unsupported")
    p.control(3, {"type": "open", "kind": "fs", "op": "frobnicate", "path": "x"})
    p.chan_error(3, "unsupported")
    p.alive()
    fs_works(p, 5)


@check("12", "bad-message: malformed JSON ends the channel it came on, or on channel 0 the connection",
       scripted=True)
def bad_message(c, caps):
    p = c.connect()
    pid = open_exec(p, 1, ["sleep", "300"])["pid"]
    p.control(1, b'{"type": "signal", "signal": ')
    p.chan_error(1, "bad-message")
    process_gone(pid)
    p.control(3, {"type": "open", "kind": "exec"})  # neither argv nor shell
    if failed_open(p, 3, "bad-message"):
        p.alive()
        fs_works(p, 5)
    p = c.connect()
    p.control(0, b"[1, 2]")
    p.conn_error("bad-message")


@check("12", "bad-sequence: a seq gap, seq 0 on a sequenced frame, an ACK of frames never sent (7.1, 7.2)",
       scripted=True)
def bad_sequence(c, caps):
    stat = {"type": "open", "kind": "fs", "op": "stat", "path": "."}
    for send in (lambda p: p.control(1, stat, seq=2), lambda p: p.control(1, stat, seq=0),
                 lambda p: p.send(ACK, 0, struct.pack(">Q", 100000))):
        p = c.connect()
        send(p)
        p.conn_error("bad-sequence")


@check("12", "flow-control: DATA beyond the credit, a WINDOW of 0 (11)", scripted=True)
def flow_control_errors(c, caps):
    p = c.connect()
    open_exec(p, 1, ["sleep", "300"], stdin=True)
    window, chunk = p.caps["window"], p.caps["max_frame"]
    for i in range(0, window, chunk):  # exactly the credit: allowed
        p.send(DATA, 1, b"\0" * min(chunk, window - i), stream=0)
    p.alive()
    time.sleep(0.3)
    p.alive()  # collects any WINDOW the agent sent meanwhile
    p.send(DATA, 1, b"\0" * (p.granted.get(1, 0) + 1), stream=0)
    p.conn_error("flow-control")
    p = c.connect()
    open_exec(p, 1, ["sleep", "300"])
    p.window(1, 0)
    p.conn_error("flow-control")


@check("12", "codec-error: corrupt deflate data, a codec that was not negotiated (10.2)", scripted=True)
def codec_error(c, caps):
    for flags, payload in ((1, b"\xff\xff\xff\xff\xff\xff"), (2, b"(\xb5/\xfd\x00\x00\x01\x00\x00x")):
        p = c.connect()
        open_exec(p, 1, ["cat"], stdin=True)
        p.send(DATA, 1, payload, stream=0, flags=flags)
        p.conn_error("codec-error")


@check("12", "bad-frame: each malformed header of 4.4 ends the connection", scripted=True)
def bad_frame(c, caps):
    cases = {  # (type, channel, payload, header fields)
        "reserved byte": (CONTROL, 0, b'{"type":"x"}', {"rsv": 1}),
        "frame type 7": (7, 0, b"", {}),
        "flags on CONTROL": (CONTROL, 1, b'{"type":"x"}', {"flags": 4}),
        "stream on WINDOW": (WINDOW, 1, b"\0\0\0\1", {"stream": 1}),
        "DATA on channel 0": (DATA, 0, b"x", {}),
        "WINDOW of 3 bytes": (WINDOW, 1, b"\0\0\1", {}),
        "ACK on channel 1": (ACK, 1, b"\0" * 8, {}),
        "PING with a seq": (PING, 0, b"\0" * 8, {"seq": 5}),
        "empty CONTROL": (CONTROL, 1, b"", {}),
        "empty DATA without end-of-stream": (DATA, 1, b"", {}),
        "DATA codec 3": (DATA, 1, b"x", {"flags": 3}),
        "reserved DATA flag": (DATA, 1, b"x", {"flags": 8}),
    }
    for name, (typ, chan, payload, kw) in cases.items():
        p = c.connect()
        p.send(typ, chan, payload, **kw)
        try:
            p.conn_error("bad-frame")
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


# ---------------------------------------------------------------- 13 limits
@check("13", "CONTROL payload: 65536 bytes pass, 65537 are frame-too-large (before the payload is read)",
       scripted=True)
def control_size(c, caps):
    p = c.connect()
    msg = {"type": "open", "kind": "exec", "argv": ["true"], "pad": ""}
    msg["pad"] = "x" * (65536 - len(json.dumps(msg)))
    p.control(1, msg)
    p.expect_msg(1, "opened")
    p = c.connect()
    p.send(CONTROL, 1, b"", length=65537)  # the header alone: the agent must not wait for the payload
    p.conn_error("frame-too-large")


@check("13", "DATA payload: max_frame bytes pass, one more is frame-too-large", scripted=True)
def data_size(c, caps):
    p = c.connect()
    open_exec(p, 1, ["sleep", "300"], stdin=True)
    p.send(DATA, 1, b"\0" * p.caps["max_frame"], stream=0)
    p.alive()
    p.send(DATA, 1, b"", stream=0, length=p.caps["max_frame"] + 1)
    p.conn_error("frame-too-large")


@check("13", "open channels: max_channels pass, one more is limit-exceeded", scripted=True)
def channel_limit(c, caps):
    p = c.connect()
    n = p.caps["max_channels"]
    for i in range(n):  # writes wait for their data: cheap open channels
        p.control(2 * i + 1, {"type": "open", "kind": "fs", "op": "write", "path": f"w{i}"})
    for i in range(n):
        p.expect_msg(2 * i + 1, "opened")
    p.alive()
    p.control(2 * n + 1, {"type": "open", "kind": "fs", "op": "stat", "path": "."})
    p.conn_error("limit-exceeded")


@check("13", "JSON nesting: 16 levels pass, 17 are bad-message (5)", scripted=True)
def nesting(c, caps):
    def nested(levels):  # the top-level object is level 1
        v = []
        for _ in range(levels - 2):
            v = [v]
        return v
    p = c.connect()
    pid = open_exec(p, 1, ["sleep", "300"], x=nested(16))["pid"]
    p.control(1, {"type": "signal", "signal": "TERM", "x": nested(17)})
    p.chan_error(1, "bad-message")
    process_gone(pid)
    p.alive()


@check("13", "credit: a WINDOW up to 2^31-1 passes, beyond is flow-control (11)", scripted=True)
def credit_limit(c, caps):
    p = c.connect()
    open_exec(p, 1, ["sleep", "300"])
    p.window(1, 2**31 - 1 - c.master.window)  # the agent's credit is now exactly 2^31-1 (sleep sent nothing)
    p.alive()
    p.window(1, 1)
    p.conn_error("flow-control")


@check("13", "a path over 4096 bytes, a string over 32768, over 4096 argv entries: bad-message", scripted=True)
def string_limits(c, caps):
    p = c.connect()
    opens = ({"kind": "fs", "op": "stat", "path": "a" * 4097}, {"kind": "exec", "shell": "x" * 32769},
             {"kind": "exec", "argv": ["true"] * 4097})
    for i, fields in enumerate(opens):
        p.control(2 * i + 1, {"type": "open", **fields})
        if not failed_open(p, 2 * i + 1, "bad-message"):
            p = c.connect()
    p.alive()


def master_certificate(tmp):
    """The scripted master serves the certificate and key a real master generated for itself."""
    c = Cluster()
    try:
        c.start_master()
        for name in ("tls-cert.pem", "tls-key.pem"):
            shutil.copy(os.path.join(c.state, name), tmp)
    finally:
        c.close()
    return os.path.join(tmp, "tls-cert.pem"), os.path.join(tmp, "tls-key.pem")


ORDER = ["3", "6", "6.3", "7.1", "8", "9.5", "9.6", "9.7", "10.2", "11", "7.3", "12", "13"]


def run_check(agent_cmd, section, title, needs, scripted, fn, cert):
    if scripted:
        c = ScriptedCluster(agent_cmd, tempfile.mkdtemp(prefix="remsh-conf-"), *cert)
    else:
        c = AgentCluster(agent_cmd, relay=(needs == "resume"))
    start = time.monotonic()
    try:
        if scripted:
            c.enroll()
            caps = None
        else:
            c.start_master()
            c.add_agent("a1")
            caps = capabilities(c, "a1")
            if needs and not caps.get(needs):
                raise NotDeclared(needs)
        fn(c, caps)
        return "pass", f"{time.monotonic() - start:.1f} s"
    except NotDeclared as e:
        return "not declared", f"capability {e} is false"
    except Exception as e:  # noqa: BLE001 - report any failure with the agent's log
        for name in ("agent-a1.log", "master.log"):
            path = os.path.join(c.tmp, name)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    tail = f.read().decode(errors="replace").splitlines()[-15:]
                print(f"--- {title}: {name} (tail)\n" + "\n".join(tail))
        return "FAIL", repr(e)[:400]
    finally:
        c.close()
        if scripted and not os.environ.get("REMSH_E2E_KEEP"):
            shutil.rmtree(c.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent-cmd", help="how to start the agent (default: the build's C++ agent)")
    ap.add_argument("--only", help="run only the checks of this section (e.g. 9.6)")
    a = ap.parse_args()
    agent_cmd = shlex.split(a.agent_cmd) if a.agent_cmd else [harness.binary("remsh-agent")]
    todo = [x for x in sorted(CHECKS, key=lambda x: ORDER.index(x[0])) if not a.only or x[0] == a.only]
    cert_dir = tempfile.mkdtemp(prefix="remsh-conf-cert-")
    try:
        cert = master_certificate(cert_dir) if any(x[3] for x in todo) else None
        results = [(x[0], x[1], *run_check(agent_cmd, *x, cert)) for x in todo]  # (section, title, verdict, detail)
    finally:
        shutil.rmtree(cert_dir, ignore_errors=True)
    print(f"\nconformance of {' '.join(agent_cmd)}")
    for section, title, verdict, detail in results:
        print(f"  §{section:5} {verdict:13} {title} ({detail})")
    print("\nby section:")
    for section in ORDER:
        mine = [r for r in results if r[0] == section]
        if not mine:
            continue
        failed = sum(r[2] == "FAIL" for r in mine)
        undeclared = sum(r[2] == "not declared" for r in mine)
        verdict = "FAIL" if failed else "not declared" if undeclared == len(mine) else "pass"
        print(f"  §{section:5} {verdict} ({len(mine) - failed - undeclared}/{len(mine)} checks passed)")
    print("  (§2, §4-5 and §7.2 are exercised by every check: a frame, sequence or ack an agent gets wrong\n"
          "   ends its session; §8.1 and §9.8 are not checked here)")
    sys.exit(1 if any(r[2] == "FAIL" for r in results) else 0)


if __name__ == "__main__":
    main()
