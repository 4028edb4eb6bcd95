#!/usr/bin/env python3
"""End-to-end tests of remote run (issue: agent, master and CLI). One test per ctest entry:
    remote_run_test.py NAME     (REMSH_BUILD_DIR points at the build)
"""
import os
import signal
import subprocess
import sys
import threading
import time

from harness import SANITIZED, Cluster, binary, rss_kb, run_tests, sha256, wait_until

TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def plaintext(fn):
    fn.plaintext = True
    return fn


@test
def output_streams_and_exit_code(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    r = c.remsh("run", "a1", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7, r
    assert r.stdout == b"out\n", r.stdout
    assert r.stderr == b"err\n", r.stderr


@test
def all_byte_values_on_stdout_and_stderr(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    data = bytes(range(256)) * 64
    script = "import sys; d=bytes(range(256))*64; sys.stdout.buffer.write(d); sys.stderr.buffer.write(d[::-1])"
    r = c.remsh("run", "a1", "--", "python3", "-c", script)
    assert r.returncode == 0, r.stderr[-300:]
    assert r.stdout == data
    assert r.stderr == data[::-1]


@test
def exit_codes_and_signals(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    for code in (0, 1, 255):
        r = c.remsh("run", "a1", "--", "sh", "-c", f"exit {code}")
        assert r.returncode == code, (code, r)
    r = c.remsh("run", "a1", "--", "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r
    r = c.remsh("run", "a1", "--", "sh", "-c", "kill -TERM $$")
    assert r.returncode == 143, r


@test
def missing_program_is_exec_failed(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    r = c.remsh("run", "a1", "--", "/nonexistent/program")
    assert r.returncode != 0
    assert b"exec-failed" in r.stderr, r.stderr
    r = c.remsh("run", "nosuchagent", "--", "true")
    assert r.returncode != 0 and b"agent-unknown" in r.stderr, r
    # Commands travel as JSON text: a word that is not UTF-8 is a usage error, said before
    # anything is sent (it used to end as connection-lost).
    r = c.remsh("run", "a1", "--", "ls", b"caf\xe9")
    assert r.returncode == 2 and b"word 2 of the command is not UTF-8" in r.stderr, r
    for bad_id in ("abc", "12abc", "99999999999999999999"):  # not "not-found: no command -1"
        r = c.remsh("logs", bad_id)
        assert r.returncode == 2 and b"is not a command id" in r.stderr, r
    # Usage errors read like every other error: "<program>: usage: <message>".
    r = c.remsh("run")
    assert r.returncode == 2 and r.stderr.startswith(b"remsh: usage: AGENT: "), r
    r = c.remsh("run", "a1", "--timeout", "0", "--", "true")
    assert r.returncode == 2 and b"must be more than 0" in r.stderr, r
    for args, word in ((["runn", "a1"], b"runn"), (["agent", "frob"], b"frob")):  # not "A subcommand is required"
        r = c.remsh(*args)
        assert r.returncode == 2 and r.stderr.startswith(b"remsh: usage: unknown command '" + word + b"'"), r
    r = subprocess.run([binary("remsh-agent"), "runn"], capture_output=True, timeout=30)
    assert r.returncode == 2 and r.stderr.startswith(b"remsh-agent: usage: unknown command 'runn'"), r
    for prog in ("remsh-agent", "remsh-master"):
        r = subprocess.run([binary(prog), "--no-such-option"], capture_output=True, timeout=30)
        assert r.returncode == 2 and r.stderr.startswith(prog.encode() + b": usage: "), r
    for prog in ("remsh", "remsh-agent", "remsh-master"):
        r = subprocess.run([binary(prog), "--version"], capture_output=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith(prog.encode() + b" "), r


@test
def stdin_is_passed_through(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    r = c.remsh("run", "a1", "--", "cat", input=b"hello-stdin\n")
    assert r.stdout == b"hello-stdin\n", r
    # Beyond the agent's window (4 MiB): the master reads on only as the agent's credit returns.
    big = os.urandom(20_000_000)
    r = c.remsh("run", "a1", "--", "sha256sum", input=big)
    assert r.stdout.split()[0].decode() == sha256(big), r


@test
def output_and_input_failures_are_errors_not_silent_truncation(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    # A full disk behind stdout: exit 255 and why, not 0 with a truncated file.
    with open("/dev/full", "wb") as full:
        r = subprocess.run([binary("remsh"), "run", "a1", "--", "head", "-c", "3000000", "/dev/urandom"],
                           env=c.env(), stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 255, r
    assert b"remsh: output-error: cannot write stdout: No space left on device" in r.stderr, r.stderr
    with open("/dev/full", "wb") as full:
        r = subprocess.run([binary("remsh"), "logs", "1"], env=c.env(), stdout=full, stderr=subprocess.PIPE,
                           timeout=60)
    assert r.returncode == 255 and b"output-error" in r.stderr, r
    # stdout closed from the start: its number must not go to one of remsh's sockets.
    r = subprocess.run(f"'{binary('remsh')}' run a1 -- sh -c 'echo out; exit 3' >&-", shell=True,
                       env=c.env(), stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 255 and b"Bad file descriptor" in r.stderr, r
    # stdin that cannot be read (a directory): the command is stopped, not given an end of input.
    directory = os.open(c.tmp, os.O_RDONLY)
    try:
        r = subprocess.run([binary("remsh"), "run", "a1", "--", "wc", "-c"], env=c.env(), stdin=directory,
                           capture_output=True, timeout=60)
    finally:
        os.close(directory)
    assert r.returncode == 255 and b"remsh: input-error: cannot read stdin: Is a directory" in r.stderr, r
    assert r.stdout == b"", r


@test
def a_closed_stdout_or_a_signal_to_remsh_ends_the_remote_command(c: Cluster):
    c.start_master()
    work = c.add_agent("a1")
    # The reader goes away and the command ignores TERM: KILL follows, remsh does not hang.
    start = time.monotonic()
    r = subprocess.run(f"'{binary('remsh')}' run a1 -- sh -c 'trap \"\" TERM; yes' | head -c 5; "
                       "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", env=c.env(),
                       capture_output=True, timeout=60)
    assert r.returncode == 137, r
    assert time.monotonic() - start < 30
    # TERM to remsh (a CI job's timeout) reaches the command, as Ctrl-C does.
    pidfile = os.path.join(work, "sleeper.pid")
    p = c.remsh_popen("run", "a1", "--", "sh", "-c", f"echo $$ > {pidfile}; exec sleep 60")
    wait_until("the command to start", lambda: os.path.exists(pidfile) and os.path.getsize(pidfile) > 0)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 143
    pid = int(open(pidfile).read())
    wait_until("the remote command to end", lambda: not os.path.exists(f"/proc/{pid}"), 10)


@test
def an_agent_that_stops_ends_its_commands_at_once(c: Cluster):
    # Its goodbye says it will not resume: the client learns at once, not after the resume
    # grace (60 s here, 300 s by default).
    c.start_master()
    c.add_agent("a1")
    p = c.remsh_popen("run", "a1", "--", "sh", "-c", "echo started; exec sleep 120",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"started\n"
    time.sleep(1.5)  # so that when it left differs from when it connected
    left_after_ms = time.time() * 1000
    start = time.monotonic()
    r = subprocess.run([binary("remsh-agent"), "stop", "--config-dir", os.path.join(c.tmp, "agent-a1")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r
    assert p.wait(timeout=30) == 255
    assert time.monotonic() - start < 15
    err = p.stderr.read()
    assert b"remsh: lost: the command's agent went away: the agent left" in err, err
    assert b" lost " in c.remsh("logs").stdout
    # LAST-SEEN is when it left, not when it connected.
    import json
    agent = json.loads(c.remsh("agents", "--json").stdout)["agents"][0]
    assert agent["state"] == "offline" and agent["last_seen_ms"] >= left_after_ms - 100, (agent, left_after_ms)


@test
def an_agent_killed_outright_takes_its_commands_with_it(c: Cluster):
    """SIGKILL leaves the agent no chance to end its commands: the kernel hangs them up
    (Linux), as a pty's hangup would. A command left running would go on changing the work
    directory that a restarted agent hands to new work."""
    if not sys.platform.startswith("linux"):
        return
    c.start_master()
    c.add_agent("k1")
    p = c.remsh_popen("run", "k1", "--", "sh", "-c", "echo $$; while :; do sleep 0.2; done",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pid = int(p.stdout.readline())
    os.kill(pid, 0)  # running
    c.agents["k1"].kill()
    c.agents["k1"].wait(timeout=10)

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as f:  # a zombie until init reaps it
            return f.read().split(") ")[1].startswith("Z")
    wait_until("the command to end with its agent", gone, timeout=10)


@test
def big_output_is_byte_exact_live_and_stored(c: Cluster):
    c.start_master()
    work = c.add_agent("a1")
    src = os.path.join(work, "big.bin")
    with open(src, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1_000_000))
    want = sha256(open(src, "rb").read())
    p = c.remsh_popen("run", "a1", "--", "cat", "big.bin", stdout=subprocess.PIPE)
    h = __import__("hashlib").sha256()
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)
    assert p.wait(timeout=120) == 0
    assert h.hexdigest() == want
    listing = c.remsh("logs").stdout.decode().strip().splitlines()
    cid = listing[-1].split()[0]
    r = c.remsh("logs", cid, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sha256(r.stdout) == want


@test
def timeout_kills_the_process_tree(c: Cluster):
    c.start_master()
    work = c.add_agent("a1")
    pidfile = os.path.join(work, "grandchild.pid")
    start = time.monotonic()
    r = c.remsh("run", "a1", "--timeout", "2", "--", "sh", "-c",
                f"sh -c 'trap \"\" TERM; echo $$ > {pidfile}; sleep 300' & sleep 300")
    took = time.monotonic() - start
    assert r.returncode == 137, (r.returncode, r.stderr)  # SIGKILL, as the agent reports it
    assert b"remsh: timeout: stopped: it ran longer than its timeout (SIGKILL)" in r.stderr, r.stderr
    assert took < 30, took
    pid = int(open(pidfile).read())
    wait_until("the grandchild to die", lambda: not os.path.exists(f"/proc/{pid}"), 10)
    listing = c.remsh("logs")
    assert b" KILL(timeout) " in listing.stdout, listing.stdout


def run_at_once(c: Cluster, commands):
    """Runs `remsh ARGS...` for each ARGS in commands, all at once; returns their results and
    the seconds until the last ended."""
    results = {}

    def one(i):
        results[i] = c.remsh(*commands[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(commands))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return [results.get(i) for i in range(len(commands))], time.monotonic() - start


@test
def eight_concurrent_commands(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    results, took = run_at_once(c, [("run", "a1", "--", "sh", "-c", f"sleep 0.5; seq 1 {20000 + i}; exit {i}")
                                    for i in range(8)])
    for i, r in enumerate(results):
        assert r.returncode == i, (i, r.stderr)
        want = "".join(f"{n}\n" for n in range(1, 20001 + i)).encode()
        assert r.stdout == want, i
    assert took < 30


@test
def concurrent_streams_are_not_held_back_by_log_batching(c: Cluster):
    # Eight commands stream 32 MiB of incompressible bytes each at once, and then one command
    # streams the same 256 MiB alone. The master stores logs in batches and acknowledges only
    # what it stored; if the batches waited for their timer while eight channels each held
    # less than a batch, the agent's 4 MiB replay buffer would fill and wait for each tick:
    # the eight took 15 s that way, 7 times as long as the one command (here, 2 s).
    c.start_master()
    work = c.add_agent("a1")
    data = os.urandom(32 << 20)
    with open(os.path.join(work, "random.bin"), "wb") as f:
        f.write(data)
    want = sha256(data)
    results, eight = run_at_once(c, [("run", "a1", "--", "cat", "random.bin")] * 8)
    for i, r in enumerate(results):
        assert r.returncode == 0, (i, r.stderr)
        assert sha256(r.stdout) == want, i
    start = time.monotonic()
    r = c.remsh("run", "a1", "--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do cat random.bin; done")
    alone = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert r.stdout == data * 8
    assert eight < 3 * alone + 2, f"8 x 32 MiB at once: {eight:.1f} s; 256 MiB in one command: {alone:.1f} s"


@test
def logs_of_a_running_command_show_its_latest_output(c: Cluster):
    # The master stores output in batches, up to half a second apart; `remsh logs ID` of a
    # running command shows all that has arrived all the same, stored or not yet.
    c.start_master()
    c.add_agent("a1")
    p = c.remsh_popen("run", "a1", "--", "sh", "-c", "echo first; sleep 5; echo second",
                      stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"first\n"
    listing = c.remsh("logs")
    assert listing.returncode == 0, listing.stderr
    cid = listing.stdout.decode().splitlines()[-1].split()[0]
    r = c.remsh("logs", cid)
    assert r.returncode == 0 and r.stdout == b"first\n", r
    assert p.stdout.read() == b"second\n"
    assert p.wait(timeout=30) == 0
    r = c.remsh("logs", cid)
    assert r.stdout == b"first\nsecond\n", r


@test
def slow_reader_bounds_agent_memory(c: Cluster):
    if SANITIZED:
        # AddressSanitizer keeps freed blocks in a quarantine (256 MiB by default) instead of
        # reusing them, so the agent's RSS would grow with every buffer it ever freed, bounded
        # or not. A small quarantine leaves the RSS to what the agent holds.
        c.agent_env["ASAN_OPTIONS"] = ":".join(
            filter(None, [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=8"]))
    c.start_master()
    c.add_agent("a1")
    agent = c.agents["a1"]
    base = rss_kb(agent.pid)
    # 300 MB of incompressible output, read 64 KiB every 20 ms for 4 s: the agent must stop
    # reading the pipe rather than buffer it.
    p = c.remsh_popen("run", "a1", "--", "sh", "-c", "head -c 300000000 /dev/urandom",
                      stdout=subprocess.PIPE)
    peak = 0
    end = time.monotonic() + 4
    got = 0
    while time.monotonic() < end:
        got += len(p.stdout.read(65536))
        time.sleep(0.02)
        peak = max(peak, rss_kb(agent.pid))
    p.kill()
    p.wait()
    assert got > 0
    assert peak - base < 64 * 1024, f"agent RSS grew by {peak - base} KiB with a slow reader"


@test
def wrong_fingerprint_is_refused(c: Cluster):
    c.start_master()
    import base64
    import json
    tok = c.token()
    body = tok[len("remsh1_"):]
    raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw["f"] = "0" * 64
    forged = "remsh1_" + base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    r, cfg, work = c.enroll("evil", token=forged)
    assert r.returncode != 0
    assert b"fingerprint" in (r.stderr + r.stdout), r


@test
def wrong_secret_is_refused(c: Cluster):
    c.start_master()
    r, cfg, work = c.enroll("a1")
    assert r.returncode == 0, r
    import json
    path = os.path.join(cfg, "agent.json")
    conf = json.load(open(path))
    conf["secret"] = "0" * 64
    json.dump(conf, open(path, "w"))
    c.start_agent("a1", cfg)
    wait_until("the master to refuse the agent",
               lambda: "auth-failed" in c.log("agent-a1.log") or "auth" in c.log("master.log"), 20)
    assert c.agent_state("a1") != "online"


@test
def plaintext_agent_refused_by_tls_master(c: Cluster):
    c.start_master()
    tok = c.token()
    args = [binary("remsh-agent"), "enroll", tok, "--config-dir", os.path.join(c.tmp, "cfg"),
            "--name", "p", "--insecure-plaintext"]
    # A TLS token with the plaintext flag: the agent still speaks TLS and pins; a plaintext
    # client against the TLS port gets nowhere.
    import socket as s
    sock = s.create_connection(("127.0.0.1", c.agent_port), timeout=5)
    sock.sendall(b"remsh\0\0\1")
    sock.settimeout(5)
    try:
        data = sock.recv(100)
    except OSError:
        data = b""
    sock.close()
    assert not data.startswith(b"remsh"), data
    del args


@test
def token_is_single_use_by_default(c: Cluster):
    c.start_master()
    tok = c.token()
    r1, _, _ = c.enroll("a1", token=tok)
    assert r1.returncode == 0, r1
    r2, _, _ = c.enroll("a2", token=tok)
    assert r2.returncode != 0
    assert b"used up" in r2.stderr + r2.stdout, r2


@test
def agent_reconnects_after_master_restart(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    c.stop_master()
    c.start_master()
    c.wait_online("a1", timeout=40)
    r = c.remsh("run", "a1", "--", "echo", "back")
    assert r.stdout == b"back\n", r


@test
def master_unreachable_is_a_clear_error(c: Cluster):
    env = c.env()
    env["REMSH_MASTER"] = "http://127.0.0.1:1"
    env["REMSH_TOKEN"] = "x"
    env.pop("REMSH_TOKEN_FILE", None)
    r = subprocess.run([binary("remsh"), "agents"], env=env, capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"unreachable" in r.stderr, r.stderr


@test
def master_named_by_host_name_is_looked_up(c: Cluster):
    # An address is connected to directly; a name goes through the resolver ("localhost"
    # comes from /etc/hosts, and may give ::1 first, where the master does not listen).
    c.start_master()
    c.add_agent("a1")
    env = c.env()
    env["REMSH_MASTER"] = f"http://localhost:{c.api_port}"
    r = subprocess.run([binary("remsh"), "run", "a1", "--", "echo", "by name"], env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == b"by name\n", r


@test
@plaintext
def plaintext_mode_works_when_both_sides_ask(c: Cluster):
    c.start_master()
    c.add_agent("a1")
    r = c.remsh("run", "a1", "--", "echo", "plain")
    assert r.stdout == b"plain\n", r


if __name__ == "__main__":
    run_tests(TESTS)
