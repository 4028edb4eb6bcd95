"""End-to-end tests of jobs: recipes run by the master's step logic on real agents
(127.0.0.1). Every wait is bounded.
"""
import hashlib
import json
import os
import signal
import subprocess
import time

from harness import Cluster, binary, run_tests, wait_until

TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def submit(c, recipe, wait=True):
    path = os.path.join(c.tmp, f"job-{time.monotonic_ns()}.yml")
    with open(path, "w") as f:
        f.write(recipe)
    args = ["job", "submit", path] + (["--wait"] if wait else [])
    return c.remsh(*args, timeout=120)


def job(c, jid):
    r = c.remsh("job", "show", str(jid), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def jobs(c):
    return json.loads(c.remsh("job", "list", "--json").stdout)["jobs"]


@test
def a_failed_step_halts_the_job_and_always_steps_still_run(c: Cluster):
    c.start_master()
    c.add_agent("j1")
    r = submit(c, """
name: three-steps
env: {GREETING: hello}
steps:
  - run: echo "$GREETING step-one"
  - run: echo boom; exit 4
    name: failing
  - run: echo never-here
  - run: echo cleanup-ran
    always: true
""")
    assert r.returncode == 1, r
    out = r.stdout.decode()
    assert "hello step-one" in out and "boom" in out and "cleanup-ran" in out, out
    assert "never-here" not in out
    assert b"failure" in r.stderr and b"exit code 4" in r.stderr, r.stderr
    j = job(c, jobs(c)[-1]["id"])
    assert j["state"] == "failure" and j["agent"] == "j1", j
    assert [s["state"] for s in j["steps"]] == ["success", "failure", "skipped", "success"], j["steps"]
    assert j["steps"][1]["exit_code"] == 4 and j["steps"][1]["name"] == "failing"
    # The stored logs, step by step.
    r = c.remsh("job", "logs", str(j["id"]), "--step", "1")
    assert r.stdout == b"boom\n", r
    r = c.remsh("job", "logs", str(j["id"]), "--step", "40")
    assert r.returncode == 255 and b"remsh: not-found: job " in r.stderr and b"has no step 40" in r.stderr, r
    listed = c.remsh("job", "list").stdout.decode().splitlines()
    assert listed[-1].split()[0] == str(j["id"]) and "three-steps" in listed[-1], listed


@test
def continue_on_error_and_success(c: Cluster):
    c.start_master()
    c.add_agent("j1")
    r = submit(c, """
name: tolerant
steps:
  - run: exit 3
    continue_on_error: true
  - run: echo went-on
""")
    assert r.returncode == 0 and b"went-on" in r.stdout, r
    j = job(c, jobs(c)[-1]["id"])
    assert j["state"] == "success" and [s["state"] for s in j["steps"]] == ["failure", "success"], j


@test
def step_timeout_no_output_timeout_and_job_timeout(c: Cluster):
    c.start_master()
    c.add_agent("j1")
    r = submit(c, """
name: timeouts
steps:
  - run: sleep 30
    timeout: 1s
    continue_on_error: true
  - run: echo tick; sleep 30
    no_output_timeout: 1s
    continue_on_error: true
  - run: echo fine
""")
    assert r.returncode == 0, r
    j = job(c, jobs(c)[-1]["id"])
    assert [s["state"] for s in j["steps"]] == ["timed-out", "timed-out", "success"], j["steps"]
    start = time.monotonic()
    r = submit(c, """
name: whole-job-timeout
timeout: 1s
steps:
  - run: sleep 30
  - run: echo never
  - run: echo after-timeout
    always: true
""")
    assert r.returncode == 1 and b"after-timeout" in r.stdout and b"never\n" not in r.stdout, r
    assert time.monotonic() - start < 15
    assert job(c, jobs(c)[-1]["id"])["state"] == "timed-out"


@test
def cancel_kills_the_process_tree(c: Cluster):
    c.start_master()
    work = c.add_agent("j1")
    marker = os.path.join(work, "grandchild-alive")
    r = submit(c, f"""
name: to-cancel
steps:
  - run: (sleep 3; touch {marker}) & sleep 60
  - run: echo cleanup
    always: true
""", wait=False)
    jid = r.stdout.decode().strip()
    wait_until("the step to run", lambda: job(c, jid)["steps"][0]["state"] == "running")
    r = c.remsh("job", "cancel", jid)
    # It says what happened once the step was killed and the always: step ran, not what it asked.
    assert r.returncode == 0 and r.stdout == f"job {jid} cancelled\n".encode(), r
    wait_until("the job to end", lambda: job(c, jid)["state"] == "cancelled", timeout=15)
    j = job(c, jid)
    assert [s["state"] for s in j["steps"]] == ["cancelled", "success"], j["steps"]
    time.sleep(4)
    assert not os.path.exists(marker), "a grandchild survived the cancel"
    r = c.remsh("job", "cancel", jid)
    assert r.returncode == 255 and b"job-finished" in r.stderr


@test
def a_job_waits_for_a_matching_agent_and_survives_a_master_restart(c: Cluster):
    c.start_master()
    c.add_agent("plain")
    r = submit(c, """
name: needs-gpu
agents: {labels: [gpu]}
steps:
  - run: echo on-$(hostname)-gpu
""", wait=False)
    jid = r.stdout.decode().strip()
    time.sleep(1.5)
    assert job(c, jid)["state"] == "queued"
    # It says why: no agent has the label (rather than waiting in silence).
    assert job(c, jid)["waiting_for"] == "an agent with the labels gpu: none has them", job(c, jid)
    assert b"waits for an agent with the labels gpu" in c.remsh("job", "show", jid).stdout
    c.stop_master()
    c.start_master()
    c.wait_online("plain", timeout=40)
    assert job(c, jid)["state"] == "queued"
    r2, cfg, _ = c.enroll("gpu1", extra=["--label", "gpu"])
    assert r2.returncode == 0
    c.start_agent("gpu1", cfg)
    wait_until("the job to run on gpu1", lambda: job(c, jid)["state"] == "success", timeout=30)
    assert job(c, jid)["agent"] == "gpu1" and "waiting_for" not in job(c, jid)
    r = c.remsh("job", "logs", jid)
    assert b"-gpu" in r.stdout, r


@test
def a_graceful_master_shutdown_waits_for_running_jobs(c: Cluster):
    c.start_master()
    c.add_agent("j1")
    r = submit(c, "name: long\nsteps:\n  - run: sleep 2; echo long-done\n", wait=False)
    running = r.stdout.decode().strip()
    wait_until("the job to run", lambda: job(c, running)["state"] == "running")
    r = c.remsh("master", "shutdown", "--graceful", "--deadline", "60")
    assert r.returncode == 0 and b"1 running job" in r.stdout, r
    r = submit(c, "name: later\nsteps:\n  - run: echo later-done\n", wait=False)
    queued = r.stdout.decode().strip()
    time.sleep(0.5)
    assert job(c, queued)["state"] == "queued"  # nothing new starts
    c.master.wait(timeout=30)
    assert c.master.returncode == 0
    c.start_master()
    assert job(c, running)["state"] == "success"
    c.wait_online("j1", timeout=40)
    wait_until("the queued job to run after the restart", lambda: job(c, queued)["state"] == "success", timeout=30)
    r = c.remsh("job", "logs", queued)
    assert r.stdout == b"later-done\n", r
    # A viewer or operator cannot stop the master.
    operator = c.remsh("apitoken", "create", "--role", "operator").stdout.decode().strip().splitlines()[-1]
    env = c.env()
    env.pop("REMSH_TOKEN_FILE")
    env["REMSH_TOKEN"] = operator
    r = subprocess.run([binary("remsh"), "master", "shutdown"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 255 and b"forbidden" in r.stderr, r


@test
def a_job_lost_with_its_agent_is_retried_on_another(c: Cluster):
    c.resume_grace = 2  # an agent that does not come back within 2 s is lost
    c.start_master()
    c.add_agent("a1")
    c.add_agent("a2")
    r = submit(c, "name: retried\nretries: 1\nsteps:\n  - run: sleep 3; echo finished\n", wait=False)
    jid = r.stdout.decode().strip()
    wait_until("the job to run", lambda: job(c, jid)["state"] == "running")
    first = job(c, jid)["agent"]
    c.agents[first].kill()  # SIGKILL: no goodbye, the master waits for the grace period
    c.agents[first].wait(timeout=10)
    wait_until("the retry to succeed", lambda: job(c, jid)["state"] == "success", timeout=40)
    j = job(c, jid)
    assert j["agent"] != first and j["attempts"] == 1, j
    assert "attempt 1 lost" in (j["reason"] or "") or j["reason"] is None, j
    r = c.remsh("job", "logs", jid)
    assert r.stdout == b"finished\n", r
    # Without retries a lost job stays lost.
    r = submit(c, "name: not-retried\nsteps:\n  - run: sleep 30\n", wait=False)
    jid2 = r.stdout.decode().strip()
    wait_until("the second job to run", lambda: job(c, jid2)["state"] == "running")
    second = job(c, jid2)["agent"]
    c.agents[second].kill()
    wait_until("the second job to be lost", lambda: job(c, jid2)["state"] == "lost", timeout=40)
    # An agent that dies before its command even started: the job is lost, not failed.
    c.add_agent("a3")
    c.agents["a3"].send_signal(signal.SIGSTOP)  # online to the master, deaf to the job
    r = submit(c, "name: never-started\nsteps:\n  - run: echo never\n", wait=False)
    jid3 = r.stdout.decode().strip()
    wait_until("the third job to be given to a3", lambda: job(c, jid3)["state"] == "running")
    c.agents["a3"].kill()
    wait_until("the third job to be lost", lambda: job(c, jid3)["state"] == "lost", timeout=40)


@test
def a_step_that_ends_while_the_master_is_down_leaves_the_agent_usable(c: Cluster):
    """The agent holds a channel whose command ended while the master was away until the
    master closes it; a restarted master never does and numbers its channels afresh. The
    agent must forget it, or the next open of that id ended the connection, again and again."""
    c.start_master()
    c.add_agent("m1")
    r = submit(c, "name: short\nsteps:\n  - run: sleep 1.5; echo done\n", wait=False)
    jid = r.stdout.decode().strip()
    wait_until("the step to run", lambda: job(c, jid)["state"] == "running")
    c.stop_master()
    time.sleep(3)  # the step ends while the master is down
    c.start_master()
    c.wait_online("m1")
    assert job(c, jid)["state"] == "lost", job(c, jid)
    for i in range(3):
        r = submit(c, f"name: after{i}\nsteps:\n  - run: echo after-{i}\n")
        assert r.returncode == 0 and f"after-{i}".encode() in r.stdout, r
    r = c.remsh("run", "m1", "--", "echo", "still-fine")
    assert r.returncode == 0 and r.stdout == b"still-fine\n", r
    log = open(os.path.join(c.tmp, "agent-m1.log"), "rb").read()
    assert b"protocol error" not in log, log[-2000:]


@test
def a_step_too_large_for_one_message_fails_alone(c: Cluster):
    """A step whose command and environment exceed one protocol message (64 KiB) fails with
    limit-exceeded. Sent, it ended the agent's connection, and each resume sent it again."""
    c.start_master()
    c.add_agent("big1")
    long_line = "echo " + "a" * 70000
    r = submit(c, f"name: huge\nsteps:\n  - run: {long_line}\n  - run: echo always-ran\n    always: true\n")
    assert r.returncode == 1, r
    assert b"limit-exceeded" in r.stdout + r.stderr or b"at most 65536" in r.stdout + r.stderr, r
    assert b"always-ran" in r.stdout, r
    r = submit(c, "name: next\nsteps:\n  - run: echo next-ran\n")
    assert r.returncode == 0 and b"next-ran" in r.stdout, r
    r = c.remsh("run", "big1", "--", "echo", "x" * 30000, "y" * 30000, "z" * 10000)
    assert r.returncode == 255 and b"remsh: limit-exceeded: " in r.stderr, r
    r = c.remsh("run", "big1", "--", "echo", "fine")
    assert r.returncode == 0 and r.stdout == b"fine\n", r
    # A request body over 1 MiB is answered (413), not cut off.
    many = "name: many\nsteps:\n" + "".join(f"  - run: echo {i}\n" for i in range(100000))
    r = submit(c, many, wait=False)
    assert r.returncode == 255 and b"remsh: limit-exceeded: a request body is at most 1 MiB" in r.stderr, r
    # A secret is at most one environment string (32 KiB).
    r = c.remsh("secret", "set", "HUGE", input=b"k" * 40000)
    assert r.returncode == 255 and b"32768" in r.stderr, r
    log = open(os.path.join(c.tmp, "agent-big1.log"), "rb").read()
    assert b"frame-too-large" not in log and b"protocol error" not in log, log[-2000:]


@test
def a_retried_job_goes_back_to_its_agent_when_no_other_can_take_it(c: Cluster):
    c.resume_grace = 2
    c.start_master()
    r, cfg, _ = c.enroll("solo")
    assert r.returncode == 0, r.stderr
    c.start_agent("solo", cfg)
    c.wait_online("solo")
    r = submit(c, "name: solo-retry\nretries: 1\nsteps:\n  - run: sleep 3; echo finished\n", wait=False)
    jid = r.stdout.decode().strip()
    wait_until("the job to run", lambda: job(c, jid)["state"] == "running")
    c.agents["solo"].kill()
    c.agents["solo"].wait(timeout=10)
    wait_until("the job to be queued again", lambda: job(c, jid)["state"] == "queued", timeout=40)
    c.start_agent("solo", cfg)  # the only agent comes back: the retry runs there
    wait_until("the retry to succeed", lambda: job(c, jid)["state"] == "success", timeout=40)
    j = job(c, jid)
    assert j["agent"] == "solo" and j["attempts"] == 1, j
    assert c.remsh("job", "logs", jid).stdout == b"finished\n"


@test
def ten_megabytes_of_logs_per_step_are_stored_byte_exact(c: Cluster):
    c.start_master()
    work = c.add_agent("j1")
    data = os.urandom(5 << 20)
    os.makedirs(os.path.join(work, "jobs", "big-logs"))  # the job's own directory
    with open(os.path.join(work, "jobs", "big-logs", "blob"), "wb") as f:
        f.write(data)
    r = submit(c, """
name: big-logs
steps:
  - run: cat blob blob
  - run: cat blob; cat blob
""")
    assert r.returncode == 0, r.stderr[-500:]
    jid = jobs(c)[-1]["id"]
    expected = hashlib.sha256(data + data).hexdigest()
    for step in (0, 1):
        out = c.remsh("job", "logs", str(jid), "--step", str(step)).stdout
        assert len(out) == 10 << 20 and hashlib.sha256(out).hexdigest() == expected, (step, len(out))


@test
def bad_recipes_are_refused_clearly(c: Cluster):
    c.start_master()
    for recipe, words in [
        ("name: x\nsteps: []\n", b"non-empty list"),
        ("steps:\n  - run: true\n", b"recipe.name is required"),
        ("name: x\nsteps:\n  - run: true\n    timeout: soon\n", b"steps[0].timeout"),
        ("name: x\nsteps:\n  - checkout: {repo: core}\n", b"remsh repo add core"),
        ("name: x\nsecrets: [NOPE_KEY]\nsteps:\n  - run: true\n", b"NOPE_KEY"),
        ("jobs:\n  - {name: a, needs: [b], steps: [{run: x}]}\n", b"does not define"),
        ("name: x\nsteps:\n  - run: true\n    colour: red\n", b"unknown key"),
        ("name: [unclosed\n", b"not valid YAML"),
        ("name: x\nsecrets: [K]\nenv: {K: v}\nsteps:\n  - run: true\n", b"K is also set in recipe.env"),
    ]:
        r = submit(c, recipe, wait=False)
        assert r.returncode == 255 and any(t in r.stderr for t in (b"bad-recipe", b"unknown-secret", b"unknown-repo")), (recipe, r.stderr)
        assert words in r.stderr, (recipe, r.stderr)
    # FILE is a file, or - for standard input.
    r = c.remsh("job", "submit", c.tmp)
    assert r.returncode == 255 and b"remsh: is-a-directory: " in r.stderr, r
    r = c.remsh("job", "submit", "-", input=b"name: [unclosed\n")
    assert r.returncode == 255 and b"not valid YAML" in r.stderr, r
    # A viewer may read jobs but not submit them.
    viewer = c.remsh("apitoken", "create", "--role", "viewer").stdout.decode().strip().splitlines()[-1]
    env = c.env()
    env.pop("REMSH_TOKEN_FILE")
    env["REMSH_TOKEN"] = viewer
    path = os.path.join(c.tmp, "ok.yml")
    with open(path, "w") as f:
        f.write("name: ok\nsteps:\n  - run: true\n")
    r = subprocess.run([binary("remsh"), "job", "submit", path], env=env, capture_output=True, timeout=30)
    assert r.returncode == 255 and b"forbidden" in r.stderr, r
    r = subprocess.run([binary("remsh"), "job", "list"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 0, r


@test
def a_pipeline_fans_out_to_two_agents_and_in_with_artifacts(c: Cluster):
    c.start_master()
    c.add_agent("p1")
    c.add_agent("p2")
    r = submit(c, """
jobs:
  - name: report
    needs: [test-a, test-b]
    steps:
      - download: { artifact: result-a }
      - download: { artifact: result-b, job: test-b }
      - run: cat a.txt b.txt
  - name: build
    steps:
      - run: mkdir -p out/sub out/empty && printf 'built\\n' > out/sub/tool.txt && printf '#!/bin/sh\\necho run\\n' > out/run.sh && chmod 755 out/run.sh
      - upload: { from: out, artifact: bin }
  - name: test-a
    needs: [build]
    steps:
      - download: { artifact: bin, to: in }
      - run: sleep 1; ./in/run.sh > a.txt; cat in/sub/tool.txt >> a.txt; test -d in/empty && hostname > /dev/null
      - upload: { from: a.txt, artifact: result-a }
  - name: test-b
    needs: [build]
    steps:
      - download: { artifact: bin, to: in }
      - run: sleep 1; echo "b saw $(cat in/sub/tool.txt)" > b.txt
      - upload: { from: b.txt, artifact: result-b }
""")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    out = r.stdout.decode()
    assert "run\nbuilt\nb saw built\n" in out, out
    all_jobs = {j["name"]: j for j in jobs(c)}
    build, ta, tb, report = (all_jobs[n] for n in ("build", "test-a", "test-b", "report"))
    assert all(j["state"] == "success" for j in (build, ta, tb, report)), all_jobs
    # Fan-out: the two tests ran at once, one on each agent (one slot each).
    assert {ta["agent"], tb["agent"]} == {"p1", "p2"}, (ta, tb)
    assert job(c, report["id"])["needs"] == sorted([ta["id"], tb["id"]]), report
    assert job(c, ta["id"])["pipeline"] == build["id"] and job(c, ta["id"])["work_dir"] == "jobs/test-a"
    # The artifact, from the CLI: listed, extracted with modes, saved raw.
    listed = c.remsh("artifact", "list", str(build["id"]))
    assert listed.returncode == 0 and "bin" in listed.stdout.decode(), listed
    dest = os.path.join(c.tmp, "got")
    r = c.remsh("artifact", "get", str(build["id"]), "bin", "-o", dest)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(dest, "sub", "tool.txt")) as f:
        assert f.read() == "built\n"
    assert os.access(os.path.join(dest, "run.sh"), os.X_OK) and os.path.isdir(os.path.join(dest, "empty"))
    raw = os.path.join(c.tmp, "bin.rta")
    r = c.remsh("artifact", "get", str(build["id"]), "bin", "--archive", raw)
    meta = [a for a in job(c, build["id"])["artifacts"] if a["name"] == "bin"][0]
    with open(raw, "rb") as f:
        data = f.read()
    assert r.returncode == 0 and data[:4] == b"RTA1" and hashlib.sha256(data).hexdigest() == meta["sha256"], meta
    r = c.remsh("artifact", "get", str(build["id"]), "nope")
    assert r.returncode == 255 and b"not-found" in r.stderr, r
    # A failed need cancels the jobs after it, with the reason.
    r = submit(c, """
jobs:
  - {name: broken, steps: [{run: exit 3}]}
  - {name: after, needs: [broken], steps: [{run: echo never}]}
""")
    assert r.returncode == 1 and b"never" not in r.stdout, r
    after = job(c, jobs(c)[-1]["id"])
    assert after["name"] == "after" and after["state"] == "cancelled", after
    assert "broken" in after["reason"] and "failure" in after["reason"], after
    assert after["steps"][0]["state"] == "skipped", after


@test
def secrets_reach_the_steps_and_are_masked_in_every_log(c: Cluster):
    c.start_master()
    c.add_agent("s1")
    value = "hunter2-Sup3rS3cret"
    r = c.remsh("secret", "set", "DEPLOY_KEY", input=(value + "\n").encode())
    assert r.returncode == 0 and b"created" in r.stderr, r
    listed = c.remsh("secret", "list")
    assert "DEPLOY_KEY" in listed.stdout.decode() and value not in listed.stdout.decode(), listed
    r = c.remsh("secret", "set", "BINARY", input=b"pre\xff\xfepost")  # secrets are text
    assert r.returncode == 2 and b"remsh: usage: the value of BINARY is not UTF-8 text" in r.stderr, r
    r = c.remsh("secret", "set", "SHORT", input=b"abc")
    assert r.returncode == 255 and b"bad-request" in r.stderr, r
    # Split across writes (and so across frames), on stdout and stderr.
    r = submit(c, """
name: deploy
secrets: [DEPLOY_KEY]
steps:
  - run: |
      echo "key=$DEPLOY_KEY"
      echo "$DEPLOY_KEY" >&2
      for c in $(printf '%s' "$DEPLOY_KEY" | fold -w 3); do printf '%s' "$c"; sleep 0.05; done; echo
      test "$DEPLOY_KEY" = "hunter2-Sup3rS3cret" && echo length-ok
""")
    assert r.returncode == 0, r.stderr.decode()[-1000:]
    assert value.encode() not in r.stdout and value.encode() not in r.stderr, r
    assert b"key=***\n" in r.stdout and b"\n***\n" in r.stdout and b"length-ok" in r.stdout, r.stdout
    jid = jobs(c)[-1]["id"]
    stored = c.remsh("job", "logs", str(jid))
    assert value.encode() not in stored.stdout + stored.stderr and b"key=***" in stored.stdout, stored
    assert b"***" in stored.stderr, stored
    with open(os.path.join(c.state, "master.db"), "rb") as f:
        assert value.encode() not in f.read()
    # Secrets are for admins only, names included.
    viewer = c.remsh("apitoken", "create", "--role", "operator").stdout.decode().strip().splitlines()[-1]
    env = c.env()
    env.pop("REMSH_TOKEN_FILE")
    env["REMSH_TOKEN"] = viewer
    r = subprocess.run([binary("remsh"), "secret", "list"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 255 and b"forbidden" in r.stderr, r
    assert c.remsh("secret", "delete", "DEPLOY_KEY").returncode == 0
    assert c.remsh("secret", "delete", "DEPLOY_KEY").returncode == 255


@test
def debug_on_failure_keeps_the_work_dir_and_the_slot(c: Cluster):
    c.start_master()
    r, cfg, work = c.enroll("d1")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(cfg, "policy.json"), "w") as f:
        f.write('{"allow_shell": true}')
    c.start_agent("d1", cfg)
    c.wait_online("d1")
    r = submit(c, """
name: flaky
debug_on_failure: 60s
steps:
  - run: echo clue > evidence.txt; exit 2
""")
    assert r.returncode == 1, r
    jid = jobs(c)[-1]["id"]
    j = job(c, jid)
    assert j["state"] == "failure" and j["debug_until_ms"], j
    assert b"kept for debugging" in c.remsh("job", "show", str(jid)).stdout
    # The slot is held: another job waits.
    r = submit(c, "name: next\nsteps:\n  - run: echo next-ran\n", wait=False)
    nid = r.stdout.decode().strip()
    time.sleep(1.5)
    assert job(c, nid)["state"] == "queued", job(c, nid)
    # A shell opens in the failed job's directory.
    r = c.remsh("shell", "--job", str(jid), "--", "sh", "-c", "cat evidence.txt; pwd")
    assert r.returncode == 0 and b"clue" in r.stdout and r.stdout.strip().endswith(b"jobs/flaky"), r
    assert b"no longer holds its directory" not in r.stderr, r
    assert c.remsh("job", "release", str(jid)).returncode == 0
    wait_until("the next job to run", lambda: job(c, nid)["state"] == "success")
    assert not job(c, jid)["debug_until_ms"]
    # Released: a shell still opens there, with a note that the directory is shared again.
    r = c.remsh("shell", "--job", str(jid), "--", "cat", "evidence.txt")
    assert r.returncode == 0 and b"clue" in r.stdout, r
    assert b"remsh: note: job " + str(jid).encode() + b" (failure) no longer holds its directory" in r.stderr, r
    r = c.remsh("job", "release", str(jid))
    assert r.returncode == 255 and b"not-held" in r.stderr, r


if __name__ == "__main__":
    run_tests(TESTS)
