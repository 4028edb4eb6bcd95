"""End-to-end tests of jobs: recipes run by the master's step logic on real agents
(127.0.0.1). Every wait is bounded.
"""
import hashlib
import json
import os
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
    assert r.returncode == 0, r
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
    c.stop_master()
    c.start_master()
    c.wait_online("plain", timeout=40)
    assert job(c, jid)["state"] == "queued"
    r2, cfg, _ = c.enroll("gpu1", extra=["--label", "gpu"])
    assert r2.returncode == 0
    c.start_agent("gpu1", cfg)
    wait_until("the job to run on gpu1", lambda: job(c, jid)["state"] == "success", timeout=30)
    assert job(c, jid)["agent"] == "gpu1"
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


@test
def ten_megabytes_of_logs_per_step_are_stored_byte_exact(c: Cluster):
    c.start_master()
    work = c.add_agent("j1")
    data = os.urandom(5 << 20)
    with open(os.path.join(work, "blob"), "wb") as f:
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
        ("name: x\nsteps:\n  - checkout: {repo: core}\n", b"not supported by this master yet"),
        ("name: x\nsteps:\n  - run: true\n    colour: red\n", b"unknown key"),
        ("name: [unclosed\n", b"not valid YAML"),
    ]:
        r = submit(c, recipe, wait=False)
        assert r.returncode == 255 and b"bad-recipe" in r.stderr and words in r.stderr, (recipe, r.stderr)
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


if __name__ == "__main__":
    run_tests(TESTS)
