#!/usr/bin/env python3
"""End-to-end tests of files (issue: the agent's filesystem primitives, remsh cp and sync).
One test per ctest entry:   files_test.py NAME     (REMSH_BUILD_DIR points at the build)
A test that cannot run here (needs root for a tmpfs mount) exits 77, which ctest shows as skipped.
"""
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

from harness import Cluster, run_tests, wait_until

TESTS = {}
SKIP = 77


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def make_random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n


def snapshot(root):
    """Everything a tree round trip must keep: type, mode bits, content digest, link text."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), digest)
    return out


def make_tree(root, files=10000):
    """files small files in 100 directories, plus empty dirs, symlinks, executables, non-ASCII."""
    os.makedirs(root)
    for i in range(files):
        d = os.path.join(root, f"d{i % 100:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
            f.write(f"file {i}\n".encode() * (1 + i % 7))
    for name in ("empty", "empty/nested-empty", "ünïcødé dir"):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    with open(os.path.join(root, "ünïcødé dir", "naïve façade ✓.txt"), "wb") as f:
        f.write(b"non-ascii\n")
    with open(os.path.join(root, "run.sh"), "wb") as f:
        f.write(b"#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(root, "run.sh"), 0o755)
    os.chmod(os.path.join(root, "d001", "f00001.txt"), 0o600)
    os.symlink("d000/f00000.txt", os.path.join(root, "link-to-file"))
    os.symlink("d002", os.path.join(root, "link-to-dir"))
    os.symlink("/nonexistent/target", os.path.join(root, "dangling"))


def no_temp_files(root):
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if f.startswith(".remsh-tmp-"):
                return False
    return True


@test
def one_gib_file_both_ways_byte_exact(c: Cluster):
    c.start_master()
    work = c.add_agent("f1")
    src = os.path.join(c.tmp, "big.bin")
    make_random_file(src, 1 << 30)
    want = file_sha256(src)
    r = c.remsh("cp", src, "f1:big.bin", timeout=600)
    assert r.returncode == 0, r.stderr
    assert file_sha256(os.path.join(work, "big.bin")) == want
    os.unlink(src)  # disk: keep at most two copies at a time
    back = os.path.join(c.tmp, "back.bin")
    r = c.remsh("cp", "f1:big.bin", back, timeout=600)
    assert r.returncode == 0, r.stderr
    assert file_sha256(back) == want
    assert no_temp_files(work)


@test
def tree_of_ten_thousand_files_round_trips_exactly(c: Cluster):
    c.start_master()
    work = c.add_agent("f1")
    src = os.path.join(c.tmp, "tree")
    make_tree(src)
    r = c.remsh("cp", "-r", src, "f1:tree", timeout=600)
    assert r.returncode == 0, r.stderr
    want = snapshot(src)
    assert snapshot(os.path.join(work, "tree")) == want
    back = os.path.join(c.tmp, "back")
    r = c.remsh("cp", "-r", "f1:tree", back, timeout=600)
    assert r.returncode == 0, r.stderr
    assert snapshot(back) == want
    # mtimes of files survive both ways (to the second at least)
    a = os.lstat(os.path.join(src, "d003", "f00003.txt")).st_mtime
    b = os.lstat(os.path.join(back, "d003", "f00003.txt")).st_mtime
    assert abs(a - b) < 0.01, (a, b)
    assert no_temp_files(back) and no_temp_files(work)


@test
def sync_sends_only_the_changed_files(c: Cluster):
    c.start_master()
    work = c.add_agent("f1")
    src = os.path.join(c.tmp, "tree")
    make_tree(src)
    r = c.remsh("sync", src, "f1:proj", timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"sent "), r.stdout
    assert snapshot(os.path.join(work, "proj")) == snapshot(src)
    for i in (5, 500, 5000):  # same size, other content: only the digest tells
        p = os.path.join(src, f"d{i % 100:03d}", f"f{i:05d}.txt")
        data = open(p, "rb").read()
        with open(p, "wb") as f:
            f.write(data.upper())
    r = c.remsh("sync", src, "f1:proj", timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"sent 3 of "), r.stdout
    assert snapshot(os.path.join(work, "proj")) == snapshot(src)
    # --delete removes what the local tree lacks; a second sync sends nothing
    os.unlink(os.path.join(src, "d007", "f00007.txt"))
    subprocess.run(["rm", "-rf", os.path.join(src, "empty")], check=True)
    r = c.remsh("sync", src, "f1:proj", "--delete", timeout=600)
    assert r.returncode == 0, r.stderr
    assert b"deleted 2" in r.stdout, r.stdout
    assert snapshot(os.path.join(work, "proj")) == snapshot(src)
    r = c.remsh("sync", src, "f1:proj", "--delete", timeout=600)
    assert r.stdout.startswith(b"sent 0 of ") and b"deleted 0" in r.stdout, r.stdout
    # A local file where the agent has a directory: that directory and what only the agent has
    # in it go only with --delete, which the dry run and the count show.
    os.makedirs(os.path.join(work, "proj", "dir"))
    with open(os.path.join(work, "proj", "dir", "remote-only.txt"), "w") as f:
        f.write("precious")
    with open(os.path.join(src, "dir"), "w") as f:
        f.write("x")
    r = c.remsh("sync", src, "f1:proj", timeout=600)
    assert r.returncode == 255 and b"remsh: exists: f1:proj/dir is a directory" in r.stderr, r
    assert open(os.path.join(work, "proj", "dir", "remote-only.txt")).read() == "precious"
    r = c.remsh("sync", "-n", src, "f1:proj", "--delete", timeout=600)
    assert r.returncode == 0 and b"delete dir/ (replaced)" in r.stdout and b"would delete 1" in r.stdout, r
    r = c.remsh("sync", src, "f1:proj", "--delete", timeout=600)
    assert r.returncode == 0 and b"deleted 1" in r.stdout, r
    assert snapshot(os.path.join(work, "proj")) == snapshot(src)


@test
def names_that_are_not_utf8_work_everywhere(c: Cluster):
    """A POSIX name is bytes (docs/protocol.md 9.6): sync (twice, then --delete), ls, stat, cp
    and rm all work on names that are not UTF-8, and on a link whose text is not."""
    c.start_master()
    work = os.fsencode(c.add_agent("f1"))
    src = os.fsencode(os.path.join(c.tmp, "bytes"))
    os.makedirs(src)
    for n in (b"caf\xe9", b"plain"):
        with open(os.path.join(src, n), "wb") as f:
            f.write(n)
    os.symlink(b"tgt\xff", os.path.join(src, b"ln\xfe"))
    r = c.remsh("sync", src, "f1:b")
    assert r.returncode == 0 and r.stdout.startswith(b"sent 3 of 3"), r
    assert sorted(os.listdir(os.path.join(work, b"b"))) == [b"caf\xe9", b"ln\xfe", b"plain"]
    assert os.readlink(os.path.join(work, b"b", b"ln\xfe")) == b"tgt\xff"
    r = c.remsh("ls", "f1:b")
    assert r.returncode == 0 and r.stdout == b"caf\xe9\nln\xfe\nplain\n", r
    r = c.remsh("sync", src, "f1:b")  # the remote manifest names them as they are: nothing to send
    assert r.returncode == 0 and r.stdout.startswith(b"sent 0 of 3"), r
    r = c.remsh("stat", b"f1:b/ln\xfe")
    assert r.returncode == 0 and b"target: tgt\xff" in r.stdout, r
    back = os.path.join(os.fsencode(c.tmp), b"back\xe9")
    r = c.remsh("cp", b"f1:b/caf\xe9", back)
    assert r.returncode == 0 and open(back, "rb").read() == b"caf\xe9", r
    os.unlink(os.path.join(src, b"caf\xe9"))
    r = c.remsh("sync", src, "f1:b", "--delete")
    assert r.returncode == 0 and b"deleted 1" in r.stdout, r
    r = c.remsh("rm", b"f1:b/ln\xfe")
    assert r.returncode == 0, r
    assert os.listdir(os.path.join(work, b"b")) == [b"plain"]


@test
def downloads_land_where_cp_would_put_them(c: Cluster):
    """A download writes through a symlink (the link stays), into a device or FIFO (never
    replacing it), and refuses a dangling link, a trailing slash that names no directory, and
    a directory in the way; a symlink's file comes with its own mode and mtime."""
    c.start_master()
    work = c.add_agent("f1")
    with open(os.path.join(work, "small"), "w") as f:
        f.write("hello\n")
    os.makedirs(os.path.join(work, "src"))
    exe = os.path.join(work, "src", "exe")
    with open(exe, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(exe, 0o750)
    os.utime(exe, (1735776000, 1735776000))
    os.symlink("exe", os.path.join(work, "src", "link"))
    here = os.path.join(c.tmp, "here")
    os.makedirs(here)
    p = lambda name: os.path.join(here, name)  # noqa: E731
    # Through a symlink: the target gets the bytes, the link stays a link.
    with open(p("target"), "w") as f:
        f.write("old")
    os.symlink("target", p("link"))
    r = c.remsh("cp", "f1:small", p("link"))
    assert r.returncode == 0, r
    assert os.path.islink(p("link")) and open(p("target")).read() == "hello\n"
    # Into a FIFO, as cp does: its reader gets the bytes; it stays a FIFO.
    os.mkfifo(p("fifo"))
    got = {}
    reader = threading.Thread(target=lambda: got.update(data=open(p("fifo"), "rb").read()))
    reader.start()
    r = c.remsh("cp", "f1:small", p("fifo"))
    reader.join(timeout=30)
    assert r.returncode == 0 and got.get("data") == b"hello\n", (r, got)
    assert stat.S_ISFIFO(os.lstat(p("fifo")).st_mode)
    # A device is written into, not replaced.
    r = c.remsh("cp", "f1:small", "/dev/null")
    assert r.returncode == 0 and stat.S_ISCHR(os.lstat("/dev/null").st_mode), r
    # Refusals, each tagged, leaving nothing behind.
    os.symlink("nowhere", p("dangling"))
    os.makedirs(p("d/small"))
    for dest, tag in ((p("dangling"), b"not-found"), (p("nodir") + "/", b"not-found"),
                      (p("target") + "/", b"not-a-directory"), (p("d"), b"is-a-directory")):
        r = c.remsh("cp", "f1:small", dest)
        assert r.returncode == 255 and b"remsh: " + tag + b": " in r.stderr, (dest, r)
    r = c.remsh("cp", p("target"), "f1:nodir/")
    assert r.returncode == 255 and b"remsh: not-found: " in r.stderr, r
    assert not os.path.exists(os.path.join(work, "nodir"))
    assert sorted(os.listdir(here)) == ["d", "dangling", "fifo", "link", "target"], os.listdir(here)
    # A symlink on the agent: the file's mode and mtime, not the link's.
    r = c.remsh("cp", "f1:src/link", p("exe-copy"))
    assert r.returncode == 0, r
    st = os.stat(p("exe-copy"))
    assert stat.S_IMODE(st.st_mode) == 0o750 and int(st.st_mtime) == 1735776000, st


@test
def copying_a_tree_never_changes_a_type_at_the_destination(c: Cluster):
    """cp -r into an existing directory, both ways: a directory there is never replaced by a
    file or a link (it went with all it held), nor a file by a directory. Like cp, those
    entries are left as they are, each is reported, the rest is copied, and the exit is 255."""
    c.start_master()
    work = c.add_agent("t1")
    here = os.path.join(c.tmp, "src")
    os.makedirs(os.path.join(here, "tree", "was-file"))
    for name, text in (("tree/was-dir", "a file now"), ("tree/new", "new"), ("tree/was-file/inner", "x")):
        with open(os.path.join(here, name), "w") as f:
            f.write(text)
    # Upload: the agent has tree/was-dir (a directory with a file) and tree/was-file (a file).
    os.makedirs(os.path.join(work, "dst", "tree", "was-dir"))
    with open(os.path.join(work, "dst", "tree", "was-dir", "precious"), "w") as f:
        f.write("keep")
    with open(os.path.join(work, "dst", "tree", "was-file"), "w") as f:
        f.write("keep too")
    r = c.remsh("cp", "-r", os.path.join(here, "tree"), "t1:dst")
    assert r.returncode == 255, r
    assert b"remsh: exists: cannot overwrite directory 't1:dst/tree/was-dir' with non-directory" in r.stderr, r
    assert b"remsh: exists: cannot overwrite non-directory 't1:dst/tree/was-file' with directory" in r.stderr, r
    assert open(os.path.join(work, "dst", "tree", "was-dir", "precious")).read() == "keep"
    assert open(os.path.join(work, "dst", "tree", "was-file")).read() == "keep too"
    assert open(os.path.join(work, "dst", "tree", "new")).read() == "new"
    # Download: the same shapes here.
    back = os.path.join(c.tmp, "back")
    os.makedirs(os.path.join(back, "tree", "was-dir"))
    with open(os.path.join(back, "tree", "was-dir", "mine"), "w") as f:
        f.write("local")
    with open(os.path.join(back, "tree", "was-file"), "w") as f:
        f.write("local too")
    shutil.rmtree(os.path.join(work, "dst", "tree"))
    r = c.remsh("cp", "-r", os.path.join(here, "tree"), "t1:dst")
    assert r.returncode == 0, r
    r = c.remsh("cp", "-r", "t1:dst/tree", back)
    assert r.returncode == 255, r
    assert b"cannot overwrite directory '" + back.encode() + b"/tree/was-dir' with non-directory" in r.stderr, r
    assert b"cannot overwrite non-directory '" + back.encode() + b"/tree/was-file' with directory" in r.stderr, r
    assert open(os.path.join(back, "tree", "was-dir", "mine")).read() == "local"
    assert open(os.path.join(back, "tree", "was-file")).read() == "local too"
    assert open(os.path.join(back, "tree", "new")).read() == "new"
    # The copied directory itself where a file is: refused whole, nothing written.
    with open(os.path.join(work, "dst", "tree2"), "w") as f:
        f.write("a file")
    shutil.copytree(os.path.join(here, "tree"), os.path.join(c.tmp, "tree2"))
    r = c.remsh("cp", "-r", os.path.join(c.tmp, "tree2"), "t1:dst")
    assert r.returncode == 255 and b"remsh: exists: cannot overwrite non-directory 't1:dst/tree2' with directory" in r.stderr, r
    assert open(os.path.join(work, "dst", "tree2")).read() == "a file"


@test
def traversal_attempts_are_refused(c: Cluster):
    c.start_master()
    work = c.add_agent("f1")
    outside = os.path.join(c.tmp, "outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "secret"), "wb") as f:
        f.write(b"secret\n")
    os.symlink(outside, os.path.join(work, "escape"))
    local = os.path.join(c.tmp, "local.txt")
    with open(local, "wb") as f:
        f.write(b"payload\n")
    attempts = [
        ("cp", "f1:../outside/secret", os.path.join(c.tmp, "got1")),
        ("cp", f"f1:{outside}/secret", os.path.join(c.tmp, "got2")),
        ("cp", "f1:escape/secret", os.path.join(c.tmp, "got3")),
        ("cp", local, "f1:../outside/planted"),
        ("cp", local, f"f1:{outside}/planted"),
        ("cp", local, "f1:escape/planted"),
        ("cp", "-r", os.path.dirname(local), "f1:escape/tree"),
        ("ls", "f1:escape/"),
        ("ls", "f1:.."),
        ("rm", "-r", "f1:escape/secret"),
        ("mkdir", "-p", "f1:escape/newdir"),
        ("stat", "f1:/etc/passwd"),
    ]
    for args in attempts:
        r = c.remsh(*args)
        assert r.returncode == 255, (args, r)
        assert b"path-outside-workdir" in r.stderr, (args, r.stderr)
    assert sorted(os.listdir(outside)) == ["secret"], os.listdir(outside)
    for name in ("got1", "got2", "got3"):
        assert not os.path.exists(os.path.join(c.tmp, name))
    # The link itself is an entry of the work directory: it can be listed and removed.
    r = c.remsh("stat", "f1:escape")
    assert r.returncode == 0 and b"symlink" in r.stdout, r
    r = c.remsh("rm", "f1:escape")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(outside, "secret"))


@test
def owner_allowed_path_opens_more(c: Cluster):
    c.start_master()
    extra = os.path.join(c.tmp, "shared-cache")
    os.makedirs(extra)
    r, cfg, work = c.enroll("f1", extra=("--allow-path", extra))
    assert r.returncode == 0, r.stderr
    c.start_agent("f1", cfg)
    c.wait_online("f1")
    local = os.path.join(c.tmp, "x.txt")
    with open(local, "wb") as f:
        f.write(b"cached\n")
    r = c.remsh("cp", local, f"f1:{extra}/x.txt")
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(extra, "x.txt"), "rb").read() == b"cached\n"
    r = c.remsh("cp", local, f"f1:{c.tmp}/elsewhere.txt")
    assert r.returncode == 255 and b"path-outside-workdir" in r.stderr, r


@test
def interrupted_write_leaves_no_partial_file(c: Cluster):
    c.start_master()
    work = c.add_agent("f1")
    src = os.path.join(c.tmp, "big.bin")
    make_random_file(src, 512 << 20)
    p = c.remsh_popen("cp", src, "f1:dest.bin", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Cut the transfer off once the agent has begun writing (its temporary file exists).
    wait_until("the agent's temporary file", lambda: not no_temp_files(work), timeout=60, interval=0.01)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    wait_until("the temporary file to be removed", lambda: no_temp_files(work), timeout=30)
    assert not os.path.exists(os.path.join(work, "dest.bin"))
    # The agent is fine afterwards, and a complete copy lands.
    r = c.remsh("cp", src, "f1:dest.bin", timeout=600)
    assert r.returncode == 0, r.stderr
    assert file_sha256(os.path.join(work, "dest.bin")) == file_sha256(src)


def interrupt_once_writing(c: Cluster, where, *args):
    """Runs `remsh ARGS`, stops it once a temporary file shows up in `where`, hands it a
    SIGINT (as Ctrl-C does) and lets it go on: the transfer cannot end in between."""
    err = os.path.join(c.tmp, "interrupted.err")
    with open(err, "wb") as e:
        p = c.remsh_popen(*args, stdout=subprocess.DEVNULL, stderr=e)
        wait_until("a temporary file", lambda: not no_temp_files(where), timeout=60, interval=0.005)
        p.send_signal(signal.SIGSTOP)
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGCONT)
        rc = p.wait(timeout=60)
    with open(err, "rb") as e:
        return rc, e.read()


@test
def ctrl_c_leaves_no_partial_file_either_way(c: Cluster):
    # Interrupted while the temporary file is being written, a copy leaves nothing behind. The
    # interrupt may also land in the last moment, after the complete file took its name: then
    # that file stays, whole. Never a partial one.
    c.start_master()
    work = c.add_agent("f1")
    src = os.path.join(c.tmp, "big.bin")
    make_random_file(src, 256 << 20)  # above 16 MiB: hashed while sent, renamed on the agent after
    want = file_sha256(src)
    rc, err = interrupt_once_writing(c, work, "cp", src, "f1:up.bin")
    assert rc == 130 and b"remsh: interrupted: stopped by SIGINT" in err, (rc, err)
    # The agent removes its temporary file when the master closes the upload's channel, which
    # it does once it reads the CLI's dropped connection: at once, or, while the agent is
    # still writing what it was sent (no credit, so the master is not reading), a moment later.
    wait_until("the agent's temporary file to be removed", lambda: no_temp_files(work), timeout=30)
    up = os.path.join(work, "up.bin")
    assert not os.path.exists(up) or file_sha256(up) == want, "a partial up.bin"
    os.rename(src, os.path.join(work, "big.bin"))
    local = os.path.join(c.tmp, "down")
    os.mkdir(local)
    rc, err = interrupt_once_writing(c, local, "cp", "f1:big.bin", local)
    assert rc == 130 and b"interrupted" in err, (rc, err)
    left = os.listdir(local)
    assert left in ([], ["big.bin"]), left
    assert not left or file_sha256(os.path.join(local, "big.bin")) == want, "a partial big.bin"


@test
def a_large_upload_takes_its_name_only_once_verified(c: Cluster):
    # Above 16 MiB the CLI hashes while it sends, then renames the agent's copy into place.
    c.start_master()
    work = c.add_agent("f1")
    src = os.path.join(c.tmp, "big.bin")
    make_random_file(src, 512 << 20)
    want = file_sha256(src)
    # A trailing slash names a directory, as for cp: one that does not exist is refused at once.
    r = c.remsh("cp", src, "f1:new/", timeout=600)
    assert r.returncode == 255 and b"remsh: not-found: " in r.stderr, r
    assert not os.path.exists(os.path.join(work, "new"))
    r = c.remsh("cp", src, "f1:new", timeout=600)
    assert r.returncode == 0, r.stderr
    assert file_sha256(os.path.join(work, "new")) == want
    # A directory where the file would go is refused before anything is sent.
    os.makedirs(os.path.join(work, "d", "big.bin"))
    r = c.remsh("cp", src, "f1:d")
    assert r.returncode == 255 and b"is-a-directory" in r.stderr, r
    # A source changed while it is sent fails verification, and nothing takes the name.
    err = os.path.join(c.tmp, "cp.err")
    with open(err, "wb") as e:
        p = c.remsh_popen("cp", src, "f1:changing.bin", stdout=subprocess.DEVNULL, stderr=e)
        wait_until("the agent's temporary file", lambda: not no_temp_files(work), timeout=60, interval=0.01)
        with open(src, "r+b") as f:
            f.write(b"changed")
        assert p.wait(timeout=600) == 255
    with open(err, "rb") as e:
        assert b"verify-failed" in e.read()
    assert not os.path.exists(os.path.join(work, "changing.bin"))
    assert no_temp_files(work)


@test
def full_disk_is_a_clear_error(c: Cluster):
    if os.geteuid() != 0:
        print("skipped: needs root to mount a small tmpfs")
        sys.exit(SKIP)
    c.start_master()
    work = c.add_agent("f1")
    small = os.path.join(work, "small")
    os.makedirs(small)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small], capture_output=True)
    if r.returncode != 0:
        print(f"skipped: cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        sys.exit(SKIP)
    try:
        src = os.path.join(c.tmp, "five-mb.bin")
        make_random_file(src, 5 << 20)
        r = c.remsh("cp", src, "f1:small/five-mb.bin")
        assert r.returncode == 255, r
        assert b"disk-full" in r.stderr, r.stderr
        assert os.listdir(small) == [], os.listdir(small)
        # A file above 16 MiB is hashed as it is sent and renamed by the CLI: the same end.
        big = os.path.join(c.tmp, "seventeen-mb.bin")
        make_random_file(big, 17 << 20)
        r = c.remsh("cp", big, "f1:small/seventeen-mb.bin")
        assert r.returncode == 255, r
        assert b"disk-full" in r.stderr, r.stderr
        assert os.listdir(small) == [], os.listdir(small)
        tree = os.path.join(c.tmp, "tree")
        os.makedirs(tree)
        for i in range(3):
            make_random_file(os.path.join(tree, f"part{i}"), 1 << 20)
        r = c.remsh("cp", "-r", tree, "f1:small/tree")
        assert r.returncode == 255 and b"disk-full" in r.stderr, r
        assert no_temp_files(small)
    finally:
        subprocess.run(["umount", "-l", small], capture_output=True)


@test
def errors_are_tagged_and_nothing_is_half_done(c: Cluster):
    c.start_master()
    work = c.add_agent("f1")
    d = os.path.join(c.tmp, "d")
    os.makedirs(d)
    r = c.remsh("cp", d, "f1:d")
    assert r.returncode == 255 and b"is-a-directory" in r.stderr, r
    r = c.remsh("cp", "f1:missing", os.path.join(c.tmp, "x"))
    assert r.returncode == 255 and b"not-found" in r.stderr, r
    local = os.path.join(c.tmp, "f.txt")
    with open(local, "wb") as f:
        f.write(b"x")
    r = c.remsh("cp", local, "f1:no/such/dir/f.txt")
    assert r.returncode == 255 and b"not-found" in r.stderr, r
    r = c.remsh("mkdir", "f1:a/b")
    assert r.returncode == 255 and b"not-found" in r.stderr, r
    r = c.remsh("mkdir", "-p", "f1:a/b")
    assert r.returncode == 0, r
    # Like mkdir(1): each failing operand is reported, the others are still made.
    r = c.remsh("mkdir", "f1:a/b", "f1:m1", "f1:x/y", "f1:m2")
    assert r.returncode == 255 and r.stderr.count(b"remsh: ") == 2, r
    assert b"remsh: exists: f1:a/b exists" in r.stderr and b"remsh: not-found: f1:x does not exist" in r.stderr, r
    assert os.path.isdir(os.path.join(work, "m1")) and os.path.isdir(os.path.join(work, "m2"))
    r = c.remsh("rm", "f1:a")
    assert r.returncode == 255 and b"is-a-directory" in r.stderr, r
    # Many long names: removed in batches that each fit one protocol message.
    names = [f"{i:04d}-" + "n" * 150 for i in range(1500)]
    os.makedirs(os.path.join(work, "many"))
    for n in names:
        open(os.path.join(work, "many", n), "w").close()
    r = c.remsh("rm", *[f"f1:many/{n}" for n in names], timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert os.listdir(os.path.join(work, "many")) == []
    # read-only files and directories go with rm -r
    os.chmod(os.path.join(work, "a", "b"), 0o500)
    r = c.remsh("rm", "-r", "f1:a")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(work, "a"))
    r = c.remsh("stat", "--json", "f1:a")
    assert r.returncode == 0 and b'"exists":false' in r.stdout, r
    r = c.remsh("cp", local, "./not-remote")
    assert r.returncode == 2, r
    # Failed operations free their channel: more failures than the agent has channels (64),
    # then a command still runs.
    for _ in range(70):
        r = c.remsh("cp", local, "f1:no/such/dir/f.txt")  # the agent's write fails
        assert r.returncode == 255 and b"not-found" in r.stderr, r
    r = c.remsh("run", "f1", "--", "true")
    assert r.returncode == 0, r.stderr


if __name__ == "__main__":
    run_tests(TESTS)
