"""End-to-end harness: a real remsh-master, real agents and the real CLI on 127.0.0.1.

Every process started here is stopped by PID when the test ends; every wait is bounded.
"""
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("REMSH_BUILD_DIR", "")


def binary(name):
    for sub in ("master", "master/src/cli", "remsh-agent", "."):
        p = os.path.join(BUILD, sub, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise RuntimeError(f"no {name} under {BUILD}")


def free_port():
    """A port for the master to listen on, free now.

    Picked below the kernel's ephemeral range: a port from that range (what binding port 0
    gives) can be taken by any outgoing connection, of this test or a parallel one, before
    the master binds it, and the master then fails with "Address already in use".
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    for _ in range(100):
        port = random.randrange(10000, max(ephemeral_low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    with socket.socket() as s:  # everything below the range taken: the old way
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    """A master with its state dir, and agents enrolled into it."""

    def __init__(self, plaintext=False):
        self.tmp = tempfile.mkdtemp(prefix="remsh-e2e-")
        self.procs = []
        self.agents = {}
        self.plaintext = plaintext
        self.state = os.path.join(self.tmp, "master")
        self.agent_port = free_port()
        self.api_port = free_port()
        self.master = None
        self.resume_grace = 60  # seconds the master keeps a lost agent's session
        self.master_extra = []  # more remsh-master options
        self.agent_env = {}  # more environment variables for agents started from now on

    # ---- master ----
    def start_master(self):
        args = [binary("remsh-master"), "--state-dir", self.state,
                "--agents-listen", f"127.0.0.1:{self.agent_port}",
                "--api-listen", f"127.0.0.1:{self.api_port}", "--resume-grace", str(self.resume_grace)]
        if self.plaintext:
            args.append("--insecure-plaintext")
        args += self.master_extra
        log = open(os.path.join(self.tmp, "master.log"), "ab")
        self.master = subprocess.Popen(args, stdout=log, stderr=log)
        self.procs.append(self.master)
        token = os.path.join(self.state, "admin.token")
        wait_until("admin.token", lambda: os.path.exists(token) and os.path.getsize(token) > 0)
        wait_until("the master API", lambda: self.remsh("agents").returncode == 0)

    def stop_master(self, sig=signal.SIGTERM):
        self.master.send_signal(sig)
        self.master.wait(timeout=20)

    def env(self):
        e = dict(os.environ)
        e["REMSH_MASTER"] = f"http://127.0.0.1:{self.api_port}"
        e["REMSH_TOKEN_FILE"] = os.path.join(self.state, "admin.token")
        return e

    def remsh(self, *args, input=None, timeout=120):
        return subprocess.run([binary("remsh"), *args], env=self.env(), input=input,
                              capture_output=True, timeout=timeout)

    def remsh_popen(self, *args, **kw):
        p = subprocess.Popen([binary("remsh"), *args], env=self.env(), **kw)
        self.procs.append(p)
        return p

    # ---- agents ----
    def token(self):
        r = self.remsh("token", "create")
        assert r.returncode == 0, r.stderr
        return r.stdout.decode().strip().splitlines()[-1]

    def enroll(self, name, token=None, extra=()):
        cfg = os.path.join(self.tmp, f"agent-{name}")
        work = os.path.join(self.tmp, f"work-{name}")
        os.makedirs(work, exist_ok=True)
        args = [binary("remsh-agent"), "enroll", token or self.token(), "--config-dir", cfg,
                "--name", name, "--work-dir", work, *extra]
        if self.plaintext:
            args.append("--insecure-plaintext")
        r = subprocess.run(args, capture_output=True, timeout=30)
        return r, cfg, work

    def start_agent(self, name, cfg):
        args = [binary("remsh-agent"), "run", "--config-dir", cfg]
        if self.plaintext:
            args.append("--insecure-plaintext")
        log = open(os.path.join(self.tmp, f"agent-{name}.log"), "ab")
        p = subprocess.Popen(args, stdout=log, stderr=log, env={**os.environ, **self.agent_env})
        self.procs.append(p)
        self.agents[name] = p
        return p

    def add_agent(self, name):
        r, cfg, work = self.enroll(name)
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
        self.start_agent(name, cfg)
        self.wait_online(name)
        return work

    def agent_state(self, name):
        r = self.remsh("agents", "--json")
        if r.returncode != 0:
            return None
        for a in json.loads(r.stdout)["agents"]:
            if a["name"] == name:
                return a["state"]
        return None

    def wait_online(self, name, timeout=20.0):
        wait_until(f"agent {name} online", lambda: self.agent_state(name) == "online", timeout)

    def log(self, name):
        with open(os.path.join(self.tmp, name), "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if os.environ.get("REMSH_E2E_KEEP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


SANITIZED = os.environ.get("REMSH_SANITIZED", "").upper() in ("1", "ON", "TRUE", "YES")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_tests(tests, cluster=None):
    """Runs the test named on the command line (ctest runs each separately); `cluster` is
    the Cluster class to use (tests/windows uses one whose agents run under Wine)."""
    cluster = cluster or Cluster
    name = sys.argv[1] if len(sys.argv) > 1 else None
    todo = [name] if name else list(tests)
    failed = 0
    for n in todo:
        c = cluster(plaintext=getattr(tests[n], "plaintext", False))
        start = time.monotonic()
        try:
            tests[n](c)
            print(f"ok {n} ({time.monotonic() - start:.1f} s)")
        except Exception as e:  # noqa: BLE001 - report any failure with the logs
            failed += 1
            print(f"FAIL {n}: {e!r}")
            for logname in sorted(os.listdir(c.tmp)):
                if logname.endswith(".log"):
                    print(f"--- {logname} (tail)")
                    print("\n".join(c.log(logname).splitlines()[-20:]))
        finally:
            c.close()
    sys.exit(1 if failed else 0)
