#!/usr/bin/env python3
"""Helpers for bench/run-remote-bench: timing, byte counting, /proc sampling, statistics
and the final comparison table.  Standard library only.

Subcommands (all print `name: value unit (notes)` lines):
  latency  --name N --runs R [--warmup W] [--budget S] [--hyperfine] -- CMD...
  stream   --name N --bytes B [--reps R] [--budget S] [--timeout S] [--sink count|none]
           [--wire sport=P|dport=P] [--rss SPEC]... [--cpu SPEC]... -- CMD...
  mem      --name N SPEC            VmRSS and VmHWM of a process set
  idle     --name N [--below P] [--max-wait S]   wait for the machine to be < P % busy
  table    RESULTS_FILE             the side-by-side table with the goals

A process SPEC is `label=PID` or `label=tree:ROOT:COMM` (every descendant of ROOT whose
comm is COMM, found when the measurement starts).
"""
import argparse
import json
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MB = 1e6
MIB = 1048576


# ---------------------------------------------------------------- statistics
def quantile(xs, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def fmt(x, nd=1):
    return f"{x:.{nd}f}"


# ---------------------------------------------------------------- /proc
def children(pid):
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{t}/children") as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def resolve(spec):
    """'label=PID' or 'label=tree:ROOT:COMM' -> (label, [pids])"""
    label, _, what = spec.partition("=")
    if what.startswith("tree:"):
        _, root, want = what.split(":", 2)
        pids, stack = [], [int(root)]
        while stack:
            p = stack.pop()
            if comm(p) == want:
                pids.append(p)
            stack += children(p)
        return label, pids
    return label, [int(x) for x in what.split(",") if x]


def proc_cpu_s(pid):
    """utime + stime of the process itself (all threads), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- latency
def latency_python(cmd, runs, warmup, budget):
    times, failures = [], 0
    deadline = time.monotonic() + budget
    for i in range(warmup + runs):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=30)
            ok = r.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        t1 = time.perf_counter()
        if not ok:
            failures += 1
        if i >= warmup:
            times.append(t1 - t0)
    return times, failures, "python perf_counter around subprocess.run"


def latency_hyperfine(cmd, runs, warmup, budget):
    fd, js = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        subprocess.run(["hyperfine", "-N", "--runs", str(runs), "--warmup", str(warmup),
                        "--style", "none", "--export-json", js, shlex.join(cmd)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=budget, check=True)
        with open(js) as f:
            r = json.load(f)["results"][0]
        failures = sum(1 for c in (r.get("exit_codes") or []) if c != 0)
        return r["times"], failures, "hyperfine -N"
    finally:
        os.unlink(js)


def cmd_latency(a):
    times = None
    if a.hyperfine and shutil.which("hyperfine"):
        try:
            times, failures, how = latency_hyperfine(a.cmd, a.runs, a.warmup, a.budget)
        except (subprocess.SubprocessError, OSError, KeyError, ValueError) as e:
            print(f"# {a.name}: hyperfine failed ({e}); timing in python", file=sys.stderr)
    if times is None:
        times, failures, how = latency_python(a.cmd, a.runs, a.warmup, a.budget)
    if not times:
        print(f"{a.name}_median: nan ms (no run finished)")
        return
    ms = [t * 1e3 for t in times]
    note = f"n={len(ms)}, {how}" + (f", {failures} FAILED runs" if failures else "")
    print(f"{a.name}_median: {fmt(statistics.median(ms), 2)} ms ({note})")
    print(f"{a.name}_p90: {fmt(quantile(ms, 0.9), 2)} ms (mean {fmt(statistics.fmean(ms), 2)}, "
          f"min {fmt(min(ms), 2)}, max {fmt(max(ms), 2)})")


# ---------------------------------------------------------------- keystroke echo (shells)
def cmd_echo(a):
    """Keystroke echo latency: the command (a remote `cat` on a pty) runs on a local
    pseudo-terminal; one byte is typed at a time and timed until the remote pty's echo of it
    comes back, as a person typing would see it. The local terminal must have gone raw first
    (no local echo), and nothing older may be pending when a key is typed."""
    import pty
    import select
    import termios
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(a.cmd[0], a.cmd)

    def read_some(timeout):
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(fd, 4096) or None
        except OSError:
            return None

    def drain(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if read_some(0.02) is None:
                return False
        return True

    def read_until(needle, timeout, count=1):
        got, end = b"", time.monotonic() + timeout
        while time.monotonic() < end:
            chunk = read_some(0.05)
            if chunk is None:
                return False
            got += chunk
            if got.count(needle) >= count:
                return True
        return False

    times = []
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and termios.tcgetattr(fd)[3] & termios.ECHO:
            drain(0.05)  # wait for the client to put the terminal in raw mode
        if termios.tcgetattr(fd)[3] & termios.ECHO:
            print(f"{a.name}_median: nan ms (the local terminal never went raw)")
            return
        os.write(fd, b"ready\r")
        # The remote echo of the line, then cat's copy of it.
        if not read_until(b"ready", 30, count=2):
            print(f"{a.name}_median: nan ms (the shell never answered)")
            return
        drain(0.3)
        for i in range(a.warmup + a.keys):
            key = bytes([ord("a") + i % 26])
            drain(0)
            t0 = time.perf_counter()
            os.write(fd, key)
            if not read_until(key, 10):
                break
            t1 = time.perf_counter()
            if i >= a.warmup:
                times.append((t1 - t0) * 1e3)
            if i % 40 == 39:
                os.write(fd, b"\r")  # keep the line short; cat echoes it back
                drain(0.1)
            time.sleep(a.gap)
    finally:
        try:
            os.write(fd, b"\x04")
        except OSError:
            pass
        time.sleep(0.2)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    if not times:
        print(f"{a.name}_median: nan ms (no echo came back)")
        return
    print(f"{a.name}_median: {fmt(statistics.median(times), 3)} ms (n={len(times)} keystrokes, "
          f"{a.gap * 1e3:.0f} ms apart, through a local pty in raw mode)")
    print(f"{a.name}_p90: {fmt(quantile(times, 0.9), 3)} ms (min {fmt(min(times), 3)}, max {fmt(max(times), 3)})")


# ---------------------------------------------------------------- the page cache between runs
def settle_page_cache(a):
    """With --settle and REMSH_BENCH_DROP_CACHES=1 (run-remote-bench sets it when it runs as
    root): writes back and drops the page cache before a timed run, then reads each --warm
    file, so that the run reads its source from memory as before. On this VM freed memory goes
    back to the host: writing 1 GiB into pages the guest must fault in again costs ~2.5 s of
    system time, into pages freed just before ~0.25 s (dd, measured). Without the drop, which
    kind a run gets depends on how much every earlier run wrote and kept; with it, every run
    of every tool starts alike."""
    if not a.settle or os.environ.get("REMSH_BENCH_DROP_CACHES") != "1":
        return
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
    except OSError as e:
        print(f"# cannot drop the page cache: {e}", file=sys.stderr)
    for path in a.warm:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


# ---------------------------------------------------------------- whole commands (file transfers)
def cmd_timed(a):
    """Wall time of a whole command, median of --reps runs, each after an untimed --prepare."""
    times, failures = [], 0
    deadline = time.monotonic() + a.budget
    for _ in range(a.reps):
        if times and time.monotonic() > deadline:
            break
        if a.prepare:
            subprocess.run(a.prepare, shell=True, stdin=subprocess.DEVNULL, check=False)
        settle_page_cache(a)
        t0 = time.perf_counter()
        try:
            r = subprocess.run(a.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=a.timeout)
            ok = r.returncode == 0
            if not ok:
                print(f"# {a.name}: exit {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}",
                      file=sys.stderr)
        except subprocess.TimeoutExpired:
            ok = False
        t1 = time.perf_counter()
        if ok:
            times.append(t1 - t0)
        else:
            failures += 1
    if not times:
        print(f"{a.name}_s: nan s (no run succeeded)")
        return
    med = statistics.median(times)
    note = f"n={len(times)}, runs {', '.join(fmt(t, 2) for t in times)} s" + (
        f", {failures} FAILED" if failures else "")
    print(f"{a.name}_s: {fmt(med, 3)} s ({note})")
    if a.bytes:
        print(f"{a.name}: {fmt(a.bytes / med / 1e6)} MB/s ({a.bytes} B / median)")


def cmd_make_tree(a):
    """a.files small files (40..300 B) in 100 directories, plus empty dirs and symlinks."""
    os.makedirs(a.dir)
    for i in range(a.files):
        d = os.path.join(a.dir, f"d{i % 100:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.c"), "wb") as f:
            f.write(f"int f{i}(void) {{ return {i}; }}\n".encode() * (1 + i % 10))
    os.makedirs(os.path.join(a.dir, "empty", "nested"))
    os.symlink("d000", os.path.join(a.dir, "link"))


def cmd_touch_files(a):
    """Changes the content (not the size) of `count` files of a make-tree tree."""
    for k in range(a.count):
        i = (k * 3331 + 17) % a.files
        p = os.path.join(a.dir, f"d{i % 100:03d}", f"f{i:05d}.c")
        with open(p, "rb") as f:
            data = f.read()
        with open(p, "wb") as f:
            f.write(data.swapcase())


# ---------------------------------------------------------------- streaming
class Sampler(threading.Thread):
    """Polls VmRSS of process sets every `period` seconds; keeps the maximum."""

    def __init__(self, specs, period=0.02):
        super().__init__(daemon=True)
        self.sets = [resolve(s) for s in specs]
        self.peak = {label: 0 for label, _ in self.sets}
        self.peak_anon = {label: 0 for label, _ in self.sets}
        self.period = period
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for label, pids in self.sets:
                v = sum(proc_status_kib(p, "VmRSS") for p in pids)
                self.peak[label] = max(self.peak[label], v)
                v = sum(proc_status_kib(p, "RssAnon") for p in pids)
                self.peak_anon[label] = max(self.peak_anon[label], v)
            self.stop.wait(self.period)


def tcp_bytes_sent(spec):
    """Sum of tcp_info bytes_sent over the established sockets matching 'sport=P' or
    'dport=P' (as `ss` sees them): the TCP payload this side sent, i.e. the wire bytes
    including TLS or SSH framing, but not TCP/IP headers."""
    side, _, port = spec.partition("=")
    try:
        out = subprocess.run(["ss", "-Htin", "state", "established", f"( {side} = :{port} )"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(int(x) for x in re.findall(r"\bbytes_sent:(\d+)", out))


def wire_now(wire):
    return tcp_bytes_sent(wire) if wire else 0


def one_stream(a, wire, cpus):
    w0 = wire_now(wire)
    c0 = {label: sum(proc_cpu_s(p) for p in pids) for label, pids in cpus}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = Sampler(a.rss) if a.rss else None
    if sampler:
        sampler.start()
    count = 0
    timed_out = False
    t0 = time.perf_counter()
    p = subprocess.Popen(a.cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE if a.sink == "count" else subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)

    def kill():
        nonlocal timed_out
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass

    watchdog = threading.Timer(a.timeout, kill)
    watchdog.start()
    err = b""
    try:
        try:
            if a.sink == "count":
                buf = bytearray(1 << 20)
                fd = p.stdout.fileno()
                while True:
                    n = os.readv(fd, [buf])
                    if n == 0:
                        break
                    count += n
            err = p.stderr.read()
            rc = p.wait()
        except BaseException:
            kill()  # interrupted: take the command (its own session) down with us
            raise
    finally:
        watchdog.cancel()
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if sampler:
        sampler.stop.set()
        sampler.join()
    w1 = wire_now(wire)
    cpu = {label: sum(proc_cpu_s(p) for p in pids) - c0[label] for label, pids in cpus}
    cpu["client"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"secs": t1 - t0, "count": count, "rc": rc, "timed_out": timed_out,
            "err": err.decode(errors="replace").strip()[-300:], "wire": w1 - w0, "cpu": cpu,
            "peak": dict(sampler.peak) if sampler else {},
            "peak_anon": dict(sampler.peak_anon) if sampler else {}}


def cmd_stream(a):
    wire = a.wire
    cpus = [resolve(s) for s in a.cpu]
    runs = []
    start = time.monotonic()
    for i in range(a.reps):
        if i and time.monotonic() - start > a.budget:
            print(f"# {a.name}: time budget ({a.budget:.0f} s) used up after {i} run(s)",
                  file=sys.stderr)
            break
        settle_page_cache(a)
        r = one_stream(a, wire, cpus)
        runs.append(r)
        if r["timed_out"]:
            break
    good = [r for r in runs if not r["timed_out"] and r["rc"] == 0
            and (a.sink != "count" or r["count"] == a.bytes)]
    for r in runs:
        if r["timed_out"]:
            print(f"{a.name}_check: TIMEOUT after {a.timeout:.0f} s ({r['count']} of {a.bytes} bytes, "
                  f"{r['count'] / r['secs'] / MB:.1f} MB/s so far)")
        elif r["rc"] != 0:
            print(f"{a.name}_check: FAILED exit {r['rc']} ({r['err']})")
        elif a.sink == "count" and r["count"] != a.bytes:
            print(f"{a.name}_check: MISMATCH got {r['count']} bytes, want {a.bytes}")
    if not good:
        print(f"{a.name}: nan MB/s (no successful run)")
        return
    rates = [a.bytes / r["secs"] / MB for r in good]
    secs = [r["secs"] for r in good]
    print(f"{a.name}: {fmt(statistics.median(rates))} MB/s (payload {a.bytes} B / wall, median of "
          f"{len(good)}: {', '.join(fmt(x) for x in rates)}; {fmt(statistics.median(secs), 2)} s)")
    if wire:
        w = statistics.median(r["wire"] for r in good)
        ratio = a.bytes / w if w else float("nan")
        print(f"{a.name}_wire: {w:.0f} bytes (TCP bytes_sent of the {wire} socket; "
              f"ratio {ratio:.2f} x)")
        print(f"{a.name}_wire_ratio: {ratio:.2f} x")
    labels = list(good[0]["cpu"].keys())
    cpu_txt = ", ".join(f"{lb} {statistics.median(r['cpu'][lb] for r in good):.2f}" for lb in labels)
    print(f"{a.name}_cpu: {cpu_txt} s per run (utime+stime; client = the command we ran and "
          f"its children)")
    for label in (good[0]["peak"] if good[0]["peak"] else {}):
        pk = max(r["peak"][label] for r in good)
        pa = max(r["peak_anon"][label] for r in good)
        print(f"{a.name}_peak_rss_{label}: {pk / 1024:.2f} MiB (max VmRSS polled every 20 ms; "
              f"max RssAnon {pa / 1024:.2f} MiB)")


# ---------------------------------------------------------------- memory
def cmd_mem(a):
    label, pids = resolve(a.spec)
    if not any(os.path.exists(f"/proc/{p}") for p in pids):
        print(f"{a.name}: nan MiB (process {label} is gone)")
        return
    rss = sum(proc_status_kib(p, "VmRSS") for p in pids)
    hwm = sum(proc_status_kib(p, "VmHWM") for p in pids)
    anon = sum(proc_status_kib(p, "RssAnon") for p in pids)
    fil = sum(proc_status_kib(p, "RssFile") for p in pids)
    print(f"{a.name}: {rss / 1024:.2f} MiB (VmRSS = anon {anon / 1024:.2f} + file {fil / 1024:.2f} "
          f"+ shmem; VmHWM {hwm / 1024:.2f} MiB)")


# ---------------------------------------------------------------- idle wait
def busy_percent(secs=1.0):
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = snap()
    time.sleep(secs)
    t1, i1 = snap()
    return 100.0 * (1 - (i1 - i0) / max(1, t1 - t0))


def cmd_idle(a):
    start = time.monotonic()
    b = busy_percent()
    while b > a.below and time.monotonic() - start < a.max_wait:
        b = busy_percent()
    waited = time.monotonic() - start
    print(f"{a.name}: {b:.0f} % (all cores busy, over 1 s; waited {waited:.0f} s for < {a.below:.0f} %"
          f"{'' if b <= a.below else ', gave up'})")


# ---------------------------------------------------------------- table
def cmd_table(a):
    vals = {}
    with open(a.results) as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9_]+): (\S+)", line)
            if m:
                try:
                    vals[m.group(1)] = float(m.group(2))
                except ValueError:
                    pass

    def v(key):
        return vals.get(key)

    def best(*keys):  # the fastest peer that ran (a failed one is nan)
        return min((y for y in map(v, keys) if y and y == y), default=None)

    def show(x, nd=1):
        return "-" if x is None or x != x else f"{x:.{nd}f}"

    # (figure, unit, remsh key, peer columns, goal text, goal test)
    rows = [
        ("latency `true`, median", "ms", "remsh_latency_true_median",
         [("ssh fresh", "ssh_latency_true_fresh_median"), ("ssh mux", "ssh_latency_true_mux_median")],
         "< 5", lambda x: x < 5),
        ("latency `true`, p90", "ms", "remsh_latency_true_p90",
         [("ssh fresh", "ssh_latency_true_fresh_p90"), ("ssh mux", "ssh_latency_true_mux_p90")],
         "", None),
        ("shell keystroke echo", "ms", "remsh_shell_echo_median",
         [("ssh -tt", "ssh_shell_echo_median"), ("ssh -J", "ssh_jump_shell_echo_median")],
         "<= ssh+5%", lambda x: None if v("ssh_shell_echo_median") is None else x <= v("ssh_shell_echo_median") * 1.05),
        ("zeros to stdout", "MB/s", "remsh_stream_zero",
         [("ssh", "ssh_stream_zero"), ("pipe", "local_pipe_zero")], ">= 1000", lambda x: x >= 1000),
        ("random to stdout", "MB/s", "remsh_stream_random",
         [("ssh", "ssh_stream_random"), ("pipe", "local_pipe_random"), ("store", "local_store_random")],
         ">= 1000",
         lambda x: x >= 1000),
        ("200 MiB log, zstd", "MB/s", "remsh_stream_log_zstd",
         [("ssh", "ssh_stream_log"), ("ssh -C", "ssh_stream_log_C")], ">= 200", lambda x: x >= 200),
        ("200 MiB log, deflate", "MB/s", "remsh_stream_log_deflate",
         [("ssh", "ssh_stream_log"), ("ssh -C", "ssh_stream_log_C")], ">= 60", lambda x: x >= 60),
        ("wire ratio, zstd", "x", "remsh_stream_log_zstd_wire_ratio",
         [("ssh -C", "ssh_stream_log_C_wire_ratio")], ">= 4", lambda x: x >= 4),
        ("wire ratio, deflate", "x", "remsh_stream_log_deflate_wire_ratio",
         [("ssh -C", "ssh_stream_log_C_wire_ratio")], ">= 4", lambda x: x >= 4),
        ("1 GiB file up (cp)", "MB/s", "remsh_cp_up_1g",
         [("scp", "scp_up_1g"), ("+sync", "scp_up_1g_synced"), ("local cp", "local_cp_1g")], ">= 400",
         lambda x: x >= 400),
        ("1 GiB file down (cp)", "MB/s", "remsh_cp_down_1g", [("scp", "scp_down_1g"), ("local cp", "local_cp_1g")],
         ">= 400",
         lambda x: x >= 400),
        ("10k small files up", "s", "remsh_cp_tree_up_s",
         [("scp -r", "scp_tree_up_s"), ("tar|ssh", "tar_ssh_tree_up_s"), ("+sync", "tar_ssh_tree_up_synced_s")],
         "<= best",
         lambda x: None if best("scp_tree_up_s", "tar_ssh_tree_up_s") is None
         else x <= best("scp_tree_up_s", "tar_ssh_tree_up_s")),
        ("10k small files down", "s", "remsh_cp_tree_down_s",
         [("scp -r", "scp_tree_down_s"), ("ssh|tar", "ssh_tar_tree_down_s")], "<= best",
         lambda x: None if best("scp_tree_down_s", "ssh_tar_tree_down_s") is None
         else x <= best("scp_tree_down_s", "ssh_tar_tree_down_s")),
        ("sync, 3 of 10k changed", "s", "remsh_sync_3_changed_s", [("rsync", "rsync_3_changed_s")],
         "", None),
        ("agent binary, stripped", "MB", "remsh_agent_stripped_mb", [], "< 3", lambda x: x < 3),
        ("agent RSS idle", "MiB", "remsh_agent_rss_idle", [], "< 5", lambda x: x < 5),
        ("agent RSS peak, streaming", "MiB", "remsh_stream_log_zstd_peak_rss_agent", [], "< 10",
         lambda x: x < 10),
        ("master RSS idle", "MiB", "remsh_master_rss_idle", [], "< 20", lambda x: x < 20),
        ("master RSS 1 s after streams", "MiB", "remsh_master_rss_after_streams", [], "", None),
        ("master RSS 3 s after streams", "MiB", "remsh_master_rss_settled", [], "", None),
    ]
    head = f"{'figure':<28} {'unit':<5} {'remsh':>9}  {'peers':<34} {'goal':<8} status"
    print(head)
    print("-" * len(head))
    missed = 0
    for name, unit, key, peers, goal, test in rows:
        x = v(key)
        places = 2 if unit in ('ms', 'x', 'MB', 's') else 1  # seconds: 0.78 and 0.77 must not both read 0.8
        peer_txt = ", ".join(f"{lbl} {show(v(k), places)}" for lbl, k in peers if v(k) is not None)
        status = ""
        if test is not None:
            judged = None if x is None or x != x else test(x)
            if judged is None:  # no figure, or no peer to hold it against (e.g. --no-ssh)
                status = "n/a"
            elif judged:
                status = "ok"
            else:
                status = "MISSED"
                missed += 1
        print(f"{name:<28} {unit:<5} {show(x, places):>9}  "
              f"{peer_txt:<34} {goal:<8} {status}")
    print(f"goals missed: {missed}")
    ref = [f"{lbl} {show(v(k), 2)} ms" for lbl, k in
           (("local fork+exec of /bin/true", "local_exec_true_median"),
            ("`remsh agents` (CLI start + one API request)", "remsh_cli_agents_median"))
           if v(k) is not None]
    if ref:
        print("reference medians on this machine now: " + "; ".join(ref))
    if v("machine_busy_before") is not None:
        print(f"machine busy before measuring: {show(v('machine_busy_before'), 0)} % "
              f"(figures from a busy machine are low and noisy)")


# ---------------------------------------------------------------- main
def settle_options(p):
    p.add_argument("--settle", action="store_true",
                   help="drop the page cache before each run (see settle_page_cache)")
    p.add_argument("--warm", action="append", default=[], metavar="FILE",
                   help="with --settle: read FILE after the drop (repeatable)")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind (and kill children) on TERM
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--name", required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--budget", type=float, default=120)
    p.add_argument("--hyperfine", action="store_true")
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("stream")
    p.add_argument("--name", required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--budget", type=float, default=60, help="no new run after this many seconds")
    p.add_argument("--timeout", type=float, default=120, help="kill one run after this many seconds")
    p.add_argument("--sink", choices=("count", "none"), default="count")
    p.add_argument("--wire")
    p.add_argument("--rss", action="append", default=[])
    p.add_argument("--cpu", action="append", default=[])
    settle_options(p)
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("echo")
    p.add_argument("--name", required=True)
    p.add_argument("--keys", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--gap", type=float, default=0.01, help="seconds between keystrokes")
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("timed")
    p.add_argument("--name", required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--bytes", type=int, default=0, help="payload size, for MB/s")
    p.add_argument("--prepare", help="shell command run (untimed) before each run")
    settle_options(p)
    p.add_argument("--budget", type=float, default=120, help="no new run after this many seconds")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("make-tree")
    p.add_argument("dir")
    p.add_argument("--files", type=int, default=10000)
    p = sub.add_parser("touch-files")
    p.add_argument("dir")
    p.add_argument("--files", type=int, default=10000)
    p.add_argument("--count", type=int, default=3)
    p = sub.add_parser("mem")
    p.add_argument("--name", required=True)
    p.add_argument("spec")
    p = sub.add_parser("idle")
    p.add_argument("--name", required=True)
    p.add_argument("--below", type=float, default=25)
    p.add_argument("--max-wait", type=float, default=60)
    p = sub.add_parser("table")
    p.add_argument("results")
    a = ap.parse_args()
    {"latency": cmd_latency, "echo": cmd_echo, "stream": cmd_stream, "timed": cmd_timed, "make-tree": cmd_make_tree, "touch-files": cmd_touch_files, "mem": cmd_mem, "idle": cmd_idle,
     "table": cmd_table}[a.what](a)


if __name__ == "__main__":
    main()
