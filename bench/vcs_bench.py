"""Checkout benchmark (issue: version control on the master). One master, one agent, a
repository of 2,000 files on 127.0.0.1, and three updates of the agent's directory:

  full       the whole tree (snapshot, clobber)
  one-file   the next commit changes 1 file of 2,000 (snapshot, incremental)
  jump-50    50 commits later, 50 files changed (snapshot, incremental)

each also done by the peer: git itself on the agent (`git clone`, then `git fetch && git
checkout -f COMMIT`, run there with `remsh run`), and by remsh's own git mode (the master's
plan: a depth-1 fetch of the one commit into a new repository, then what it lacks). Figures: wall time (remsh: the job, master clock;
git: the remsh run around it) and bytes on the wire: remsh, the TCP bytes_sent of the
master's socket to the agent and of the agent's to the master (the manifest), TLS included
(`ss -ti`); git, the pack bytes it received (growth of .git, since its transfer does not go
through remsh). Prints `name: value unit` lines and a table. Loopback only.
"""
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from harness import Cluster  # noqa: E402


def git(repo, *args):
    r = subprocess.run(["git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@b", *args],
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    return r.stdout.decode().strip()


def bytes_sent(c, side):
    """bytes_sent of the sockets between master and agents: side "sport" (the master's) or
    "dport" (the agents')."""
    out = subprocess.run(["ss", "-tinH", "state", "established", f"( {side} = :{c.agent_port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return sum(int(m) for m in re.findall(r"bytes_sent:(\d+)", out))


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass
    return total


def job_ms(c):
    jobs = json.loads(c.remsh("job", "list", "--json").stdout)["jobs"]
    j = json.loads(c.remsh("job", "show", str(jobs[-1]["id"]), "--json").stdout)
    if j["state"] != "success":
        raise RuntimeError(f"job {j['id']} ended {j['state']}: {j['reason']}")
    return j["finished_ms"] - j["started_ms"], j


def checkout(c, name, commit, mode, method):
    path = os.path.join(c.tmp, "job.yml")
    with open(path, "w") as f:
        f.write(f"name: {name}\nsteps:\n  - checkout: {{ repo: big, ref: {commit}, mode: {mode}, method: {method} }}\n")
    down, up = bytes_sent(c, "sport"), bytes_sent(c, "dport")
    r = c.remsh("job", "submit", path, "--wait", timeout=600)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode()[-2000:])
    ms, j = job_ms(c)
    return ms, bytes_sent(c, "sport") - down, bytes_sent(c, "dport") - up, j


def git_on_agent(c, work, script):
    t = time.monotonic()
    r = c.remsh("run", "bench", "--cwd", "peer", "--", "sh", "-c", script, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode()[-2000:])
    return round((time.monotonic() - t) * 1000)


def main():
    files = int(os.environ.get("VCS_BENCH_FILES", "2000"))
    c = Cluster()
    try:
        c.start_master()
        work = c.add_agent("bench")
        repo = os.path.join(c.tmp, "big")
        subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
        rnd = random.Random(7)
        names = []
        for i in range(files):
            d = os.path.join(repo, f"dir{i % 40}")
            os.makedirs(d, exist_ok=True)
            names.append(os.path.join(d, f"file{i}.c"))
            with open(names[-1], "w") as f:
                f.write("".join(f"int f{i}_{k}(void) {{ return {rnd.randrange(10**6)}; }}\n" for k in range(60)))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        base = git(repo, "rev-parse", "HEAD")
        with open(names[7], "a") as f:
            f.write("/* one change */\n")
        git(repo, "commit", "-qam", "one file")
        one = git(repo, "rev-parse", "HEAD")
        for k in range(50):
            with open(names[rnd.randrange(files)], "a") as f:
                f.write(f"/* change {k} */\n")
            git(repo, "commit", "-qam", f"change {k}")
        jump = git(repo, "rev-parse", "HEAD")
        if c.remsh("repo", "add", "big", "file://" + repo).returncode != 0:
            raise RuntimeError("repo add failed")
        tree_bytes = du(repo) - du(os.path.join(repo, ".git"))
        print(f"vcs_tree_files: {files} files")
        print(f"vcs_tree_bytes: {tree_bytes} B")
        rows = []
        for label, commit, method in (("full", base, "clobber"), ("one-file", one, "incremental"),
                                      ("jump-50", jump, "incremental")):
            ms, down, up, j = checkout(c, "snap", commit, "snapshot", method)
            src = j["sources"][0]
            print(f"vcs_snapshot_{label}_ms: {ms} ms")
            print(f"vcs_snapshot_{label}_wire_to_agent: {down} B")
            print(f"vcs_snapshot_{label}_wire_from_agent: {up} B")
            print(f"vcs_snapshot_{label}_files_sent: {src['files_sent']} files")
            rows.append((label, "remsh snapshot", ms, down, f"{src['files_sent']} files; {up} B back (manifest)"))
        os.makedirs(os.path.join(work, "peer"))
        gitdir = os.path.join(work, "peer", "r", ".git")
        url = "file://" + repo
        for label, script in (("full", f"git clone -q --no-checkout {url} r && git -C r checkout -q -f {base}"),
                              ("one-file", f"git -C r fetch -q origin && git -C r checkout -q -f {one}"),
                              ("jump-50", f"git -C r fetch -q origin && git -C r checkout -q -f {jump}")):
            before = du(gitdir) if os.path.isdir(gitdir) else 0
            ms = git_on_agent(c, work, script)
            pack = du(gitdir) - before
            print(f"vcs_git_{label}_ms: {ms} ms")
            print(f"vcs_git_{label}_pack: {pack} B")
            rows.append((label, "git on the agent", ms, pack, "pack received (.git growth)"))
        plan_dir = os.path.join(work, "jobs", "gitmode", ".git")
        for label, commit, method in (("full", base, "clobber"), ("one-file", one, "incremental"),
                                      ("jump-50", jump, "incremental")):
            before = du(plan_dir) if os.path.isdir(plan_dir) else 0
            ms, _, _, _ = checkout(c, "gitmode", commit, "git", method)
            pack = du(plan_dir) - before
            print(f"vcs_gitmode_{label}_ms: {ms} ms")
            print(f"vcs_gitmode_{label}_pack: {pack} B")
            rows.append((label, "remsh git mode", ms, pack, "fetch of the one commit (.git growth)"))
        full_wire = rows[0][3]
        print(f"vcs_snapshot_one_file_share: {100.0 * rows[1][3] / full_wire:.2f} % of the full snapshot's wire bytes")
        print()
        print(f"{'update':10} {'how':20} {'time ms':>8} {'bytes':>12}  note")
        for r in rows:
            print(f"{r[0]:10} {r[1]:20} {r[2]:>8} {r[3]:>12}  {r[4]}")
        goal = rows[1][3] < 0.05 * full_wire
        print(f"\ngoal: one-file update < 5 % of a full snapshot on the wire: {'met' if goal else 'MISSED'}")
    finally:
        c.close()


if __name__ == "__main__":
    main()
