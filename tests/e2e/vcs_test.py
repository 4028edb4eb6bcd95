"""End-to-end tests of checkout: steps: the master mirrors a repository (libgit2) and sends
an agent that has no git the commit's tree as plain files, then only what changed. Local
repositories and file:// URLs only; every wait is bounded.
"""
import json
import os
import shutil
import subprocess
import tarfile
import io

from harness import Cluster, run_tests

TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def git(repo, *args):
    r = subprocess.run(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def new_repo(c, name):
    path = os.path.join(c.tmp, name)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True, timeout=30)
    return path


def submit(c, recipe):
    path = os.path.join(c.tmp, "job.yml")
    with open(path, "w") as f:
        f.write(recipe)
    return c.remsh("job", "submit", path, "--wait", timeout=180)


def last_job(c):
    jobs = json.loads(c.remsh("job", "list", "--json").stdout)["jobs"]
    return json.loads(c.remsh("job", "show", str(jobs[-1]["id"]), "--json").stdout)


def tree_of(root):
    """{path: ("file", bytes, executable) | ("link", target) | ("dir",)} below root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("dir",)
            else:
                with open(full, "rb") as f:
                    out[rel] = ("file", f.read(), os.access(full, os.X_OK))
    return out


def archive_tree(repo, commit):
    """What `git archive` of the commit holds, in the shape of tree_of()."""
    data = subprocess.run(["git", "-C", repo, "archive", "--format=tar", commit],
                          capture_output=True, check=True, timeout=60).stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            name = m.name.rstrip("/")
            if m.issym():
                out[name] = ("link", m.linkname)
            elif m.isdir():
                out[name] = ("dir",)
            elif m.isfile():
                out[name] = ("file", tar.extractfile(m).read(), bool(m.mode & 0o100))
    return out


def sample_repo(c, name="core"):
    repo = new_repo(c, name)
    os.makedirs(os.path.join(repo, "src", "deep"))
    with open(os.path.join(repo, "README.md"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(repo, "src", "main.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    with open(os.path.join(repo, "src", "deep", "naïve ✓.txt"), "wb") as f:
        f.write(bytes(range(256)))
    with open(os.path.join(repo, "build.sh"), "w") as f:
        f.write("#!/bin/sh\necho building\n")
    os.chmod(os.path.join(repo, "build.sh"), 0o755)
    os.symlink("src/main.c", os.path.join(repo, "main-link"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    return repo


@test
def a_first_checkout_is_byte_exact_against_git_archive(c: Cluster):
    c.start_master()
    work = c.add_agent("g1")
    repo = sample_repo(c)
    r = c.remsh("repo", "add", "core", "file://" + repo)
    head = git(repo, "rev-parse", "HEAD")
    assert r.returncode == 0 and r.stdout.decode().strip() == head, r
    assert "core" in c.remsh("repo", "list").stdout.decode()
    r = submit(c, "name: build\nsteps:\n  - checkout: { repo: core, ref: main }\n  - run: ./build.sh\n")
    assert r.returncode == 0 and b"building" in r.stdout, r.stderr.decode()[-1000:]
    j = last_job(c)
    assert j["sources"] == [{"step": 0, "repo": "core", "ref": "main", "commit": head, "dir": "jobs/build",
                             "full": True, "files_sent": 5, "bytes_sent": j["sources"][0]["bytes_sent"],
                             "deleted": 0}], j["sources"]
    got = tree_of(os.path.join(work, "jobs", "build"))
    assert got == archive_tree(repo, head), (sorted(got), sorted(archive_tree(repo, head)))
    # Mistakes are named.
    r = submit(c, "name: x\nsteps:\n  - checkout: { repo: nope }\n")
    assert r.returncode == 255 and b"unknown-repo" in r.stderr, r
    r = submit(c, "name: x\nsteps:\n  - checkout: { repo: core, ref: no-such-branch }\n")
    assert r.returncode == 1 and b"bad-ref" in r.stderr, r
    r = c.remsh("repo", "add", "bad", "file://" + os.path.join(c.tmp, "missing"))
    assert r.returncode == 255 and b"fetch-failed" in r.stderr, r
    assert "bad" not in c.remsh("repo", "list").stdout.decode()


@test
def an_incremental_update_sends_about_the_changed_file_only(c: Cluster):
    c.start_master()
    work = c.add_agent("g1")
    repo = new_repo(c, "big")
    for i in range(2000):
        d = os.path.join(repo, f"d{i % 20}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}.txt"), "w") as f:
            f.write((f"file {i} " * 100)[:1000] + str(os.urandom(60)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    assert c.remsh("repo", "add", "big", "file://" + repo).returncode == 0
    recipe = "name: inc\nsteps:\n  - checkout: { repo: big }\n"
    assert submit(c, recipe).returncode == 0
    first = last_job(c)["sources"][0]
    assert first["full"] and first["files_sent"] == 2000, first
    with open(os.path.join(repo, "d7", "f7.txt"), "a") as f:
        f.write("changed\n")
    git(repo, "commit", "-qam", "two")
    assert submit(c, recipe).returncode == 0
    second = last_job(c)["sources"][0]
    assert not second["full"] and second["files_sent"] == 1, second
    assert second["bytes_sent"] < first["bytes_sent"] * 0.05, (first, second)
    # Deletions and renames.
    git(repo, "mv", "d1/f1.txt", "d1/renamed.txt")
    git(repo, "rm", "-q", "d2/f2.txt")
    git(repo, "rm", "-qr", "d3")
    git(repo, "commit", "-qm", "three")
    assert submit(c, recipe).returncode == 0
    third = last_job(c)["sources"][0]
    assert third["files_sent"] == 1 and third["deleted"] == 3, third
    head = git(repo, "rev-parse", "HEAD")
    assert tree_of(os.path.join(work, "jobs", "inc")) == archive_tree(repo, head)


@test
def a_work_dir_changed_behind_the_masters_back_is_repaired(c: Cluster):
    c.start_master()
    work = c.add_agent("g1")
    repo = sample_repo(c)
    assert c.remsh("repo", "add", "core", "file://" + repo).returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    recipe = "name: t\nsteps:\n  - checkout: { repo: core, method: %s }\n"
    assert submit(c, recipe % "incremental").returncode == 0
    dest = os.path.join(work, "jobs", "t")
    with open(os.path.join(dest, "README.md"), "w") as f:
        f.write("tampered\n")
    os.remove(os.path.join(dest, "build.sh"))
    os.remove(os.path.join(dest, "src", "main.c"))
    os.makedirs(os.path.join(dest, "src", "main.c", "oops"))
    with open(os.path.join(dest, "untracked.o"), "w") as f:
        f.write("build output")
    assert submit(c, recipe % "incremental").returncode == 0
    got = tree_of(dest)
    assert got.pop("untracked.o") == ("file", b"build output", False)  # incremental keeps it
    assert got == archive_tree(repo, head)
    assert last_job(c)["sources"][0]["files_sent"] == 3
    assert submit(c, recipe % "clean").returncode == 0
    assert tree_of(dest) == archive_tree(repo, head)  # clean removes it
    assert submit(c, recipe % "clobber").returncode == 0
    src = last_job(c)["sources"][0]
    assert src["full"] and src["files_sent"] == 5, src


@test
def a_job_with_two_repositories_records_both_commits(c: Cluster):
    c.start_master()
    work = c.add_agent("g1")
    app = sample_repo(c, "app")
    lib = new_repo(c, "lib")
    with open(os.path.join(lib, "lib.h"), "w") as f:
        f.write("#define LIB 1\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    git(lib, "tag", "v1")
    assert c.remsh("repo", "add", "app", "file://" + app).returncode == 0
    assert c.remsh("repo", "add", "lib", "file://" + lib).returncode == 0
    r = submit(c, """
name: two
steps:
  - checkout: { repo: app, dir: app }
  - checkout: { repo: lib, ref: v1, dir: deps/lib }
  - run: cat deps/lib/lib.h app/README.md
""")
    assert r.returncode == 0 and b"#define LIB 1\nhello\n" in r.stdout, r
    sources = last_job(c)["sources"]
    assert [(s["repo"], s["commit"], s["dir"]) for s in sources] == [
        ("app", git(app, "rev-parse", "HEAD"), "jobs/two/app"),
        ("lib", git(lib, "rev-parse", "v1^{commit}"), "jobs/two/deps/lib")], sources
    assert c.remsh("repo", "remove", "lib").returncode == 0
    assert not os.path.exists(os.path.join(c.state, "repos", "lib.git"))


@test
def refs_are_resolved_when_the_job_starts(c: Cluster):
    c.start_master()
    c.add_agent("g1")
    repo = sample_repo(c)
    first = git(repo, "rev-parse", "HEAD")
    assert c.remsh("repo", "add", "core", "file://" + repo).returncode == 0
    path = os.path.join(c.tmp, "slow.yml")
    with open(path, "w") as f:
        f.write("name: slow\nsteps:\n  - run: sleep 2\n  - checkout: { repo: core, ref: main }\n  - run: cat README.md\n")
    jid = c.remsh("job", "submit", path).stdout.decode().strip()
    from harness import wait_until
    wait_until("the job to start", lambda: json.loads(c.remsh("job", "show", jid, "--json").stdout)["state"] == "running")
    with open(os.path.join(repo, "README.md"), "w") as f:
        f.write("too late\n")
    git(repo, "commit", "-qam", "later")
    r = c.remsh("job", "logs", "-f", jid, timeout=60)
    assert r.returncode == 0 and b"hello\n" in r.stdout and b"too late" not in r.stdout, r
    assert last_job(c)["sources"][0]["commit"] == first
    # A ref that does not resolve fails the job before its first step; always: steps still run.
    r = submit(c, "name: badref\nsteps:\n  - checkout: { repo: core, ref: nosuchbranch }\n"
                  "  - run: echo cleanup-ran\n    always: true\n")
    assert r.returncode == 1 and b"cleanup-ran" in r.stdout and b"nosuchbranch" in r.stdout + r.stderr, r
    assert [s["state"] for s in last_job(c)["steps"]] == ["skipped", "success"], last_job(c)


def without_git(tree):
    return {p: v for p, v in tree.items() if p != ".git" and not p.startswith(".git/")}


@test
def git_mode_on_an_agent_with_git_gives_the_same_tree(c: Cluster):
    c.start_master()
    work = c.add_agent("g1")
    repo = sample_repo(c)
    assert c.remsh("repo", "add", "core", "file://" + repo).returncode == 0
    recipe = "name: real\nsteps:\n  - checkout: { repo: core, mode: git, method: %s }\n  - run: git log --oneline | wc -l\n"
    r = submit(c, recipe % "incremental")
    assert r.returncode == 0 and r.stdout.strip().endswith(b"1"), r.stderr.decode()[-1500:]
    head = git(repo, "rev-parse", "HEAD")
    dest = os.path.join(work, "jobs", "real")
    assert without_git(tree_of(dest)) == archive_tree(repo, head)
    src = last_job(c)["sources"][0]
    assert src["commit"] == head and src["full"], src
    # The next commit: the same repository is fetched into; clean removes build outputs.
    with open(os.path.join(repo, "README.md"), "a") as f:
        f.write("more\n")
    git(repo, "commit", "-qam", "two")
    with open(os.path.join(dest, "out.o"), "w") as f:
        f.write("x")
    assert submit(c, recipe % "clean").returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    assert without_git(tree_of(dest)) == archive_tree(repo, head)
    assert not last_job(c)["sources"][0]["full"]


@test
def submodules_are_exported_in_snapshot_mode(c: Cluster):
    c.start_master()
    work = c.add_agent("g1")
    lib = new_repo(c, "lib")
    with open(os.path.join(lib, "lib.h"), "w") as f:
        f.write("#define LIB 2\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    app = sample_repo(c, "app")
    git(app, "-c", "protocol.file.allow=always", "submodule", "add", "-q", "../lib", "third_party/lib")
    git(app, "commit", "-qm", "with lib")
    assert c.remsh("repo", "add", "app", "file://" + app).returncode == 0
    r = submit(c, "name: sub\nsteps:\n  - checkout: { repo: app }\n  - run: cat third_party/lib/lib.h\n")
    assert r.returncode == 0 and b"#define LIB 2" in r.stdout, r.stderr.decode()[-1500:]
    # The submodule moves on: the next checkout follows the superproject's new gitlink.
    with open(os.path.join(lib, "lib.h"), "w") as f:
        f.write("#define LIB 3\n")
    git(lib, "commit", "-qam", "lib 3")
    git(os.path.join(app, "third_party", "lib"), "-c", "protocol.file.allow=always", "pull", "-q", "origin", "main")
    git(app, "commit", "-qam", "lib 3")
    r = submit(c, "name: sub\nsteps:\n  - checkout: { repo: app }\n  - run: cat third_party/lib/lib.h\n")
    assert r.returncode == 0 and b"#define LIB 3" in r.stdout, r.stderr.decode()[-1500:]
    assert last_job(c)["sources"][0]["files_sent"] == 1


if __name__ == "__main__":
    run_tests(TESTS)
