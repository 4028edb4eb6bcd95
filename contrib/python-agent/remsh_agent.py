#!/usr/bin/env python3
"""remsh_agent.py: a remsh agent (docs/protocol.md, version 1) in one file of standard-library Python 3.8+.

  remsh_agent.py enroll TOKEN --config-dir DIR [--name N] [--work-dir W] [--insecure-plaintext]
  remsh_agent.py run --config-dir DIR [--insecure-plaintext]          (REMSH_AGENT_DEBUG=1 logs messages)

Declares codecs ["deflate"], resume false, pty false; serves exec (argv or shell line), fs (every op, tree
archives included) and notice channels. No resume: a lost connection ends the session's work and the agent
reconnects with a fresh session. See README.md and WALKTHROUGH.md beside this file.
"""
import argparse, base64, errno, fnmatch, hashlib, hmac, json, os, platform, random, select, shutil, signal
import socket, ssl, stat, struct, subprocess, sys, time, traceback, zlib

SOFTWARE = "remsh-agent-py/0.1.0"
MAGIC = b"remsh\0"
CONTROL, DATA, WINDOW, ACK, PING, PONG = range(1, 7)
HDR = struct.Struct(">IBBBBIQ")  # length, type, flags, stream, reserved, channel, seq (4.1)
EOS, DEFLATE, MAX_CREDIT = 4, 1, 2**31 - 1
CAPS = {"codecs": ["deflate"], "resume": False, "pty": False, "max_channels": 64, "max_frame": 262144,
        "window": 2 << 20, "replay_bytes": 1 << 20, "keepalive_s": 15}
SIGNALS = {n: getattr(signal, "SIG" + n) for n in "INT TERM KILL HUP QUIT USR1 USR2".split()}
HIGH = 1 << 20  # stop reading children and files while this much waits for the socket
DEBUG = bool(os.environ.get("REMSH_AGENT_DEBUG"))
UMASK = os.umask(0o22)
os.umask(UMASK)
ERRNO_TAGS = {errno.ENOENT: "not-found", errno.EEXIST: "exists", errno.ENOTEMPTY: "exists", errno.EROFS:
              "permission-denied", errno.ENOTDIR: "not-a-directory", errno.EISDIR: "is-a-directory", errno.EACCES:
              "permission-denied", errno.EPERM: "permission-denied", errno.ENOSPC: "disk-full", errno.EDQUOT: "disk-full"}

class ProtoError(Exception):
    """An error with a section-12 tag; conn=True ends the connection, else only its channel."""
    def __init__(self, tag, message, conn=False):
        super().__init__(message)
        self.tag, self.conn = tag, conn

class PeerGone(Exception):
    """The master ended the connection (error, goodbye, EOF)."""

def need(ok, tag, message, conn=False):
    if not ok: raise ProtoError(tag, message, conn)

def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)

def inside(p, root):
    return p == root or p.startswith(root.rstrip("/") + "/")

# ---- control messages (5) and frames (4) ----

def parse_msg(payload, conn):
    """One CONTROL payload checked as section 5 says; every failure is bad-message."""
    def check(v, depth):
        if isinstance(v, (dict, list)):
            need(depth <= 16, "bad-message", "nesting deeper than 16", conn)
            for x in (list(v) + list(v.values()) if isinstance(v, dict) else v): check(x, depth + 1)
        elif isinstance(v, str): v.encode()  # a lone surrogate (from a "\ud800" escape) raises here
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            need(abs(v) <= 1.7976931348623157e308, "bad-message", "a number beyond a double", conn)
    try:
        m = json.loads(payload.decode(), parse_constant=lambda c: 1 / 0)  # NaN, Infinity are not JSON
        need(isinstance(m, dict), "bad-message", "not a JSON object", conn)
        check(m, 1)
    except (ValueError, RecursionError, ZeroDivisionError) as e:  # UnicodeError is a ValueError
        raise ProtoError("bad-message", f"invalid JSON: {e}", conn)
    t = m.get("type")
    need(isinstance(t, str) and 0 < len(t.encode()) <= 256, "bad-message", "type: a string of 1..256 bytes", conn)
    return m

def fld(m, name, kind, default=None, lo=None, hi=None, req=False):
    """Field `name` of message m, type- and range-checked, named in the error (5); null means absent."""
    v, where = m.get(name), f"{m['type']}.{name}"
    if v is None:
        need(not req, "bad-message", f"{where}: missing")
        return default
    need(isinstance(v, kind) and not (kind is int and isinstance(v, bool)), "bad-message", f"{where}: not {kind.__name__}")
    if kind is int: need((lo is None or v >= lo) and (hi is None or v <= hi), "bad-message", f"{where}: not in {lo}..{hi}")
    if kind is str: need(len(v.encode()) <= (hi or 32768), "bad-message", f"{where}: over {hi or 32768} bytes")
    return v

def check_header(length, typ, flags, stream, rsv, chan, seq):
    """Refuses a header before its payload is read, in the order of 4.4."""
    def bad(ok, why): need(ok, "bad-frame", why, True)
    bad(not rsv, "reserved byte not 0")
    bad(CONTROL <= typ <= PONG, f"frame type {typ}")
    bad(typ == DATA or not flags | stream, "flags or stream outside DATA")
    need(length <= {CONTROL: 65536, DATA: CAPS["max_frame"]}.get(typ, length), "frame-too-large", f"{length} bytes", True)
    bad(typ in (CONTROL, DATA) or length == (4 if typ == WINDOW else 8), "wrong payload size")
    bad(not flags & 0xF8 and flags & 3 != 3, "reserved DATA flags")
    bad(chan != 0 if typ in (DATA, WINDOW) else typ == CONTROL or not chan | seq, "wrong channel, or a seq")
    bad(length or typ != CONTROL and flags & EOS or typ not in (CONTROL, DATA), "empty frame")

class Framer:
    """Cuts received bytes into the greeting (3), then frames (4.4), whatever the read boundaries."""
    def __init__(self): self.buf, self.greeted, self.ready = bytearray(), False, []
    def feed(self, data):
        self.buf += data
        if not self.greeted and len(self.buf) >= 8:
            if self.buf[:6] != MAGIC or self.buf[6:8] == b"\0\0":  # bad-banner: nothing is sent, we just close
                raise ConnectionError("bad-banner: the peer is not a remsh master")
            del self.buf[:8]
            self.greeted = True
        while self.greeted and len(self.buf) >= 20:
            h = HDR.unpack_from(self.buf)
            check_header(*h)  # before the payload is read
            if len(self.buf) < 20 + h[0]: return
            self.ready.append((h, bytes(self.buf[20:20 + h[0]])))
            del self.buf[:20 + h[0]]

def frame(typ, chan, payload, seq=0, flags=0, stream=0):
    return HDR.pack(len(payload), typ, flags, stream, 0, chan, seq) + payload

# ---- connection, greeting, handshake (2, 3, 6) ----

def handshake(cfg, plaintext, work, token=None):
    """Connects (2), greets (3), says hello (6.2), then enrols with `token` (6.4) or authenticates (6.3). Returns
    the socket, the framer (holding any frame that came right after the last message), the master's hello and
    that last message (enrolled or welcome)."""
    host, port = cfg["master"].rsplit(":", 1)
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=15)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not plaintext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # no CA, no names: the pin decides
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")  # TLS 1.2 only with ECDHE and AEAD
        sock = ctx.wrap_socket(sock)
        got = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
        if not hmac.compare_digest(got, cfg["fingerprint"].lower()):
            sock.close()
            raise ConnectionError(f"master certificate {got} does not match the pinned fingerprint")
    framer, nonce = Framer(), os.urandom(32).hex()
    def send(msg): sock.sendall(frame(CONTROL, 0, json.dumps(msg).encode()))
    def recv(want):  # handshake messages: CONTROL on channel 0 with seq 0, each in its turn (6.1)
        while not framer.ready:
            d = sock.recv(65536)
            if not d: raise ConnectionError(f"connection closed while waiting for {want}")
            framer.feed(d)
        (_, typ, _, _, _, chan, seq), payload = framer.ready.pop(0)
        need(typ == CONTROL and not chan | seq, "bad-message", f"expected {want}, got a frame of type {typ}", True)
        m = parse_msg(payload, True)
        if m["type"] == "error": raise PeerGone(f"{m.get('tag')}: {m.get('message')}")
        need(m["type"] == want, "bad-message", f"expected {want}, got {m['type']}", True)
        return m
    sock.sendall(MAGIC + struct.pack(">H", 1))  # sent without waiting; we speak version 1 only
    hello = {"type": "hello", "version": 1, "role": "agent", "software": SOFTWARE, "capabilities": CAPS,
             "facts": facts(work)}
    send(hello if token else dict(hello, agent=cfg["name"], nonce=nonce))  # no name nor nonce when enrolling
    peer = recv("hello")
    if token:
        send({"type": "enroll", "token": token, "name": cfg["name"]})
        return sock, framer, peer, recv("enrolled")
    challenge = fld(recv("challenge"), "nonce", str, req=True, hi=64)
    send({"type": "auth", "proof": proof(cfg["secret"], cfg["name"], nonce, challenge)})
    return sock, framer, peer, recv("welcome")

def facts(work):
    """Opaque to the protocol; the master shows these keys (docs/api.md)."""
    u, vfs = os.uname(), os.statvfs(work)
    try: distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except (OSError, AttributeError): distro = ""
    return {"os": f"{u.sysname} {u.release}", "os_version": distro, "arch": u.machine, "cpus": os.cpu_count(),
            "memory_mb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20, "hostname": u.nodename,
            "disk_free_mb": vfs.f_bavail * vfs.f_frsize >> 20, "work_dir": work, "software": SOFTWARE,
            "policy": {"confine": True, "allow_shell": False, "allow_paths": [], "deny_env": [], "max_concurrent": None}}

def proof(secret_hex, agent, agent_nonce, master_nonce):
    """6.3: proof = client_key ^ HMAC(SHA256(client_key), auth_message)."""
    client_key = hmac.new(bytes.fromhex(secret_hex), b"remsh client key", hashlib.sha256).digest()
    message = f"remsh-auth-v1,{agent},{agent_nonce},{master_nonce}".encode()
    signature = hmac.new(hashlib.sha256(client_key).digest(), message, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(client_key, signature)).hex()

# ---- file-system helpers (9.6) ----

def rm_tree(p):
    """Removes a file, link or whole tree, read-only directories included."""
    st = os.lstat(p)
    if not stat.S_ISDIR(st.st_mode): return os.unlink(p)
    if st.st_mode & 0o700 != 0o700: os.chmod(p, st.st_mode | 0o700)
    for n in os.listdir(p): rm_tree(os.path.join(p, n))
    os.rmdir(p)

def walk(full, recursive, name=None):
    """(relative path, full path, lstat) in the order of 9.6: names sorted bytewise, a directory before its contents."""
    st = os.lstat(full)
    if not stat.S_ISDIR(st.st_mode):
        yield name or os.path.basename(full), full, st
        return
    def rec(d, prefix):
        for n in sorted(os.listdir(d), key=os.fsencode):
            p, rel = os.path.join(d, n), prefix + n
            st = os.lstat(p)
            yield rel, p, st
            if recursive and stat.S_ISDIR(st.st_mode): yield from rec(p, rel + "/")
    yield from rec(full, "")

def entry(rel, full, st, want_hash):
    try: rel.encode()  # JSON carries UTF-8 only (5): such a name cannot be listed, say so rather than mangle it
    except UnicodeEncodeError: raise ProtoError("io-error", f"{os.fsencode(rel)!r}: a name that is not UTF-8")
    m = st.st_mode
    kind = "file" if stat.S_ISREG(m) else "directory" if stat.S_ISDIR(m) else "symlink" if stat.S_ISLNK(m) else "other"
    e = {"path": rel, "type": kind, "size": st.st_size if kind in ("file", "symlink") else 0, "mode": m & 0o7777,
         "mtime_ms": st.st_mtime_ns // 10**6}
    if kind == "symlink": e["target"] = os.readlink(full)
    if kind == "file" and want_hash: e["sha256"] = file_hash(full)[1]
    return e

def file_hash(path):
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20): h.update(chunk); n += len(chunk)
    return n, h.hexdigest()

# ---- channels (9) ----

class Chan:
    """A channel: credit both ways (11) and its incoming streams (10); kinds override the hooks."""
    accept = ()  # the streams the master may send here
    def __init__(self, sess, cid):
        self.s, self.id, self.closed = sess, cid, False  # closed: we sent our close
        self.tx, self.rx, self.used = sess.peer_window, CAPS["window"], 0  # our credit, the master's, consumed
        self.ins, self.comp = {}, {}  # stream -> [codec, decoder, ended]; stream -> compressor
    def reply(self, **m): self.s.control(self.id, m)
    def finish(self, **result):
        self.reply(type="result", **result)
        self.s.close_chan(self)
    def on_data(self, stream, data, eos): pass
    def pump(self, waits): pass
    def abort(self): pass

class Exec(Chan):
    """Kind exec (9.5): a process in its own group; its pipes are read only while there is credit."""
    p = None
    def start(self, m):
        argv, shell = fld(m, "argv", list), fld(m, "shell", str)
        need(not fld(m, "interactive", bool), "policy-denied", "this agent's owner does not allow shells")
        need(fld(m, "pty", dict) is None, "unsupported", "no pseudo-terminals here (capability pty: false)")
        need((argv is None) != (shell is None), "bad-message", "open: exactly one of argv and shell")
        need(shell is not None or 0 < len(argv) <= 4096 and all(isinstance(a, str) for a in argv) and argv[0],
             "bad-message", "open.argv: 1..4096 strings, the first not empty")
        env, extra = {} if fld(m, "env_clear", bool) else dict(os.environ), fld(m, "env", dict, {})
        need(len(extra) <= 4096, "bad-message", "open.env: more than 4096 entries")
        for k, v in extra.items():
            need(k and "=" not in k and len(k.encode()) <= 256 and isinstance(v, (str, type(None))),
                 "bad-message", f"open.env: bad entry {k!r}")
            env.pop(k, None) if v is None else env.update({k: v})
        self.timeout, self.quiet = (fld(m, k, int, None, 1, 31622400) for k in ("timeout_s", "no_output_timeout_s"))
        cwd = self.s.resolve(fld(m, "cwd", str, ".", hi=4096), True, "cwd")
        need(os.path.isdir(cwd), "exec-failed", f"cwd {m.get('cwd')}: not a directory")
        stdin = fld(m, "stdin", bool, False)
        self.accept = (0,) if stdin else ()
        try:
            self.p = subprocess.Popen(argv or ["/bin/sh", "-c", shell], cwd=cwd, env=env, start_new_session=True,
                                      stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            raise ProtoError("exec-failed", f"{(argv or ['/bin/sh'])[0]}: {e.strerror}")
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f: os.set_blocking(f.fileno(), False)
        self.outs, self.inbuf, self.in_eof = {1: self.p.stdout, 2: self.p.stderr}, bytearray(), False
        self.t0 = self.last_out = time.monotonic()
        self.status = self.reason = None
        self.reply(type="opened", pid=self.p.pid)
    def pump(self, waits):
        if self.closed or self.p is None: return
        if self.tx > 0 and len(self.s.out) < HIGH:  # no credit or no room: the pipes wait and the child blocks (11)
            for stream, f in self.outs.items():
                waits[f.fileno()] = (select.POLLIN, lambda st=stream: self.s.guard(self, self.read, st))
        if self.p.stdin and self.inbuf:
            waits[self.p.stdin.fileno()] = (select.POLLOUT, lambda: self.s.guard(self, self.write_stdin))
        if self.status is None: self.reap()
        now = time.monotonic()  # limits hold until the output ends, even after the first process exited
        for reason, limit, since in (("timeout", self.timeout, self.t0), ("no-output-timeout", self.quiet, self.last_out)):
            if self.reason is None and limit and now - since > limit:
                self.reason = reason
                self.kill(signal.SIGKILL)
        if self.status is None or self.outs: return  # the result comes after both outputs ended (9.5)
        st, r = self.status, self.usage
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            r.update(reason="signaled", signal=next((s.name[3:] for s in signal.Signals if s == sig), str(sig)))
        else:
            r.update(reason="exited", exit_code=os.WEXITSTATUS(st))
        self.finish(**dict(r, reason=self.reason or r["reason"]))
    def read(self, stream):
        if self.p is None or stream not in self.outs or not self.tx: return  # aborted, or credit gone this round
        try: d = os.read(self.outs[stream].fileno(), min(self.tx, self.s.peer_frame))
        except BlockingIOError: return
        if d:
            self.last_out = time.monotonic()
            return self.s.send_data(self, stream, d)
        self.outs.pop(stream).close()  # end of this output: an empty end-of-stream frame
        self.s.send_data(self, stream, b"", True)
    def write_stdin(self):
        if self.p is None or not self.p.stdin: return
        try: n = os.write(self.p.stdin.fileno(), self.inbuf[:65536])
        except BlockingIOError: return
        except OSError: n, self.in_eof = len(self.inbuf), True  # the child closed its stdin: all counts as consumed
        del self.inbuf[:n]
        self.s.grant(self, n)  # credit for what the consumer took, not for what arrived (11)
        if self.in_eof and not self.inbuf: self.close_stdin()
    def close_stdin(self):
        if self.p.stdin: self.p.stdin.close()
        self.p.stdin = None
    def on_data(self, stream, data, eos):
        if self.p.stdin is None: return self.s.grant(self, len(data))  # stdin gone: drop, keep the credit flowing
        self.inbuf += data
        self.in_eof = eos
        if eos and not self.inbuf: self.close_stdin()
    def reap(self):
        pid, st, ru = os.wait4(self.p.pid, os.WNOHANG)
        if pid:
            self.status = self.p.returncode = st  # returncode set: Popen must not wait for it again
            self.usage = {"elapsed_ms": int((time.monotonic() - self.t0) * 1000), "cpu_user_ms": int(ru.ru_utime * 1000),
                          "cpu_system_ms": int(ru.ru_stime * 1000), "max_rss_kb": ru.ru_maxrss}
    def kill(self, sig, group=True):
        # The group outlives its reaped leader while members hold our pipes (`sleep 9 & wait`), and its id
        # cannot be reused while it has members: so it is signalled as long as output is open.
        if self.status is None or group and self.outs:
            try: os.killpg(self.p.pid, sig) if group else os.kill(self.p.pid, sig)
            except OSError: pass
    def signal(self, m):
        name = fld(m, "signal", str, req=True)
        need(name in SIGNALS, "bad-message", f"signal.signal: unknown signal {name!r}")
        self.kill(SIGNALS[name], fld(m, "group", bool, True))
    def abort(self):
        if self.p is None: return
        self.kill(signal.SIGKILL)
        for f in [*self.outs.values(), self.p.stdin]:
            if f: f.close()
        if self.status is None: self.s.agent.zombies.append(self.p.pid)
        self.p = None

class Fs(Chan):
    """Kind fs (9.6): one operation; readers are generators pulled within credit, writers eat stream 4."""
    FOLLOW = {"list", "manifest", "mkdir", "chmod", "hash", "read", "put_tree"}  # ops that follow a final symlink
    gen = tmp = f = tree = None
    def start(self, m):
        op = fld(m, "op", str, req=True)
        need(op.isidentifier() and hasattr(self, "op_" + op), "unsupported", f"fs op {op!r}")
        self.m, self.pend, self.more = m, bytearray(), True
        if op != "remove" or m.get("paths") is None: self.path = self.s.resolve(m.get("path"), op in self.FOLLOW)
        getattr(self, "op_" + op)(m)
    def done(self, **result):
        self.reply(type="opened")
        self.finish(**result)
    def produce(self, stream, gen, result):
        self.reply(type="opened")
        self.stream, self.gen, self.res = stream, gen, result
    def pump(self, waits):
        """Sends what the generator makes in frames of up to max_frame, never beyond credit."""
        while not self.closed and self.gen and len(self.s.out) < HIGH:
            while self.more and len(self.pend) < self.s.peer_frame:
                chunk = next(self.gen, None)
                self.more, self.pend = chunk is not None, self.pend + (chunk or b"")
            n = min(len(self.pend), self.tx, self.s.peer_frame)
            if n:
                self.s.send_data(self, self.stream, bytes(self.pend[:n]))
                del self.pend[:n]
            if not self.more and not self.pend:
                self.s.send_data(self, self.stream, b"", True)
                self.finish(**self.res)
            elif not n: return  # out of credit until a WINDOW
    def op_stat(self, m):
        if not os.path.lexists(self.path): return self.done(exists=False)
        e = entry("", self.path, os.lstat(self.path), False)
        del e["path"]
        self.done(exists=True, entry=e)
    def op_list(self, m, manifest=False):
        want_hash, pattern = fld(m, "hash", bool, False) or manifest, fld(m, "glob", str, None, hi=256)
        items = walk(self.path, manifest or fld(m, "recursive", bool, False))
        first, res = next(items, None), {"entries": 0, "bytes": 0}  # not-found comes before opened
        def gen():
            for rel, full, st in [first, *items] if first else []:
                if pattern is None or fnmatch.fnmatchcase(os.path.basename(rel), pattern):
                    e = entry(rel, full, st, want_hash)
                    res["entries"] += 1
                    res["bytes"] += e["size"] if e["type"] == "file" else 0
                    yield json.dumps(e, ensure_ascii=False).encode() + b"\n"
            if not manifest: del res["bytes"]
        self.produce(1, gen(), res)
    def op_manifest(self, m): self.op_list(m, True)
    def op_mkdir(self, m):
        if os.path.isdir(self.path): return self.done(created=False)
        need(not os.path.lexists(self.path), "exists", f"{m['path']}: exists and is not a directory")
        os.makedirs(self.path, fld(m, "mode", int, 0o755, 0, 4095))
        self.done(created=True)
    def op_remove(self, m):
        paths = fld(m, "paths", list)
        need(paths is None or 1 <= len(paths) <= 1024, "bad-message", "open.paths: 1..1024 paths")
        targets = [self.s.resolve(p, False) for p in paths] if paths is not None else [self.path]
        need(self.s.work not in targets, "denied", "will not remove the work directory itself")
        targets = [p for p in targets if os.path.lexists(p)]
        for p in targets: rm_tree(p)
        self.done(removed=len(targets))
    def dest(self, m):
        to = self.s.resolve(fld(m, "to", str, req=True, hi=4096), False, "to")
        if fld(m, "parents", bool): os.makedirs(os.path.dirname(to), exist_ok=True)
        return to
    def op_rename(self, m):
        need(self.path != self.s.work, "denied", "will not rename the work directory")
        os.replace(self.path, self.dest(m))
        self.done()
    def op_copy(self, m):
        """Links copied as links, modes and mtimes kept; copytree sets directory modes after filling them."""
        to, st = self.dest(m), os.lstat(self.path)
        need(not os.path.isdir(to) or os.path.islink(to), "exists", f"{m['to']}: is a directory")
        if stat.S_ISDIR(st.st_mode):
            need(not inside(to, self.path), "denied", "will not copy a directory into itself")
            shutil.copytree(self.path, to, symlinks=True)
        elif stat.S_ISLNK(st.st_mode): os.symlink(os.readlink(self.path), to)
        else: shutil.copy2(self.path, to)
        self.done(files=sum(not stat.S_ISDIR(e[2].st_mode) for e in walk(to, True)))
    def op_chmod(self, m):
        os.chmod(self.path, fld(m, "mode", int, req=True, lo=0, hi=4095))
        self.done()
    def op_hash(self, m):
        need(not os.path.isdir(self.path), "is-a-directory", f"{m['path']}: is a directory")
        size, digest = file_hash(self.path)
        self.done(size=size, sha256=digest)
    def op_read(self, m):
        offset, f = fld(m, "offset", int, 0, 0), open(self.path, "rb")
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            f.close()
            raise ProtoError("is-a-directory", f"{m['path']}: not a regular file")
        f.seek(offset)
        h, res = hashlib.sha256(), {"size": 0, "file_size": os.fstat(f.fileno()).st_size}
        def gen():
            with f:
                while chunk := f.read(1 << 18):
                    h.update(chunk)
                    res["size"] += len(chunk)
                    yield chunk
            res["sha256"] = h.hexdigest()
        self.produce(4, gen(), res)
    def new_temp(self, directory):
        """A `.remsh-tmp-` file beside the destination; abort() removes it."""
        self.tmp = os.path.join(directory, f".remsh-tmp-{os.urandom(6).hex()}")
        self.f = open(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    def place(self, dest, mode, mtime_ms, sync):
        """Renames the finished temporary file over dest, with its mode and mtime."""
        self.f.flush()
        if sync: os.fsync(self.f.fileno())
        os.fchmod(self.f.fileno(), mode)
        self.f.close()
        if mtime_ms is not None: os.utime(self.tmp, ns=(mtime_ms * 10**6,) * 2)
        need(not os.path.isdir(dest) or os.path.islink(dest), "is-a-directory", f"{os.path.basename(dest)}: is a directory")
        os.replace(self.tmp, dest)
        self.tmp = None
    def op_write(self, m):
        self.size, self.sha = fld(m, "size", int, None, 0), fld(m, "sha256", str, None, hi=64)
        self.mode, self.mtime = fld(m, "mode", int, 0o644 & ~UMASK, 0, 4095), fld(m, "mtime_ms", int)
        if fld(m, "parents", bool): os.makedirs(os.path.dirname(self.path), exist_ok=True)
        need(not os.path.isdir(self.path) or os.path.islink(self.path), "is-a-directory", f"{m['path']}: is a directory")
        self.new_temp(os.path.dirname(self.path))
        self.h, self.n, self.accept = hashlib.sha256(), 0, (4,)
        self.reply(type="opened")
    def op_put_tree(self, m):
        if not os.path.isdir(self.path): os.makedirs(self.path) if fld(m, "parents", bool) else os.mkdir(self.path)
        self.tree, self.accept = TreeIn(self), (4,)
        self.reply(type="opened")
    def op_get_tree(self, m):
        items = walk(self.path, True, os.path.basename(self.path))
        first, res = next(items, None), {"entries": 0, "bytes": 0}
        def gen():
            yield b"RTA1"
            for rel, full, st in [first, *items] if first else []:
                mode, p = st.st_mode, os.fsencode(rel)
                kind = b"d" if stat.S_ISDIR(mode) else b"f" if stat.S_ISREG(mode) else b"l" if stat.S_ISLNK(mode) else b""
                if not kind: continue  # sockets, devices: skipped (9.6)
                head = kind + struct.pack(">H", len(p)) + p + struct.pack(">Iq", mode & 0o7777, st.st_mtime_ns // 10**6)
                res["entries"] += 1
                if kind == b"d": yield head
                elif kind == b"l": yield head + struct.pack(">H", len(t := os.fsencode(os.readlink(full)))) + t
                else:
                    with open(full, "rb") as f:
                        yield head + struct.pack(">Q", left := st.st_size)
                        while left:  # exactly the announced size, or the archive would be corrupt
                            chunk = f.read(min(left, 1 << 18))
                            need(chunk, "io-error", f"{rel}: the file shrank while being read")
                            left -= len(chunk)
                            yield chunk
                    res["bytes"] += st.st_size
            yield b"E"
        self.produce(4, gen(), res)
    def on_data(self, stream, data, eos):
        if self.tree:
            self.tree.feed(data, eos)
            return self.finish(entries=self.tree.n, bytes=self.tree.bytes) if eos else self.s.grant(self, len(data))
        self.f.write(data)
        self.h.update(data)
        self.n += len(data)
        self.s.grant(self, len(data))
        if not eos: return
        digest = self.h.hexdigest()
        need((self.size is None or self.n == self.size) and (self.sha is None or self.sha == digest),
             "verify-failed", f"received {self.n} bytes with sha256 {digest}")
        self.place(self.path, self.mode, self.mtime, True)
        self.finish(size=self.n, sha256=digest)
    def abort(self):
        if self.f: self.f.close()
        if self.tmp and os.path.lexists(self.tmp): os.unlink(self.tmp)
        self.tmp = self.gen = None

class TreeIn:
    """Tree-archive (9.7) extractor: a coroutine resumed as DATA arrives, so it reads like the format table.
    It holds at most one header in memory; file contents go to disk as they come."""
    def __init__(self, fs):
        self.fs, self.root, self.buf, self.off, self.at, self.n, self.bytes, self.dirs = fs, fs.path, bytearray(), 0, 0, 0, 0, []
        self.co = self.parse()
    def bad(self, why): raise ProtoError("bad-archive", f"entry {self.n + 1} at byte {self.at}: {why}")
    def take(self, n, some=False):
        """Waits (yields) until n bytes (with some: at least one) are buffered, then consumes up to n."""
        while len(self.buf) < (1 if some else n): yield
        b = bytes(self.buf[:n])
        del self.buf[:n]
        self.off += len(b)
        return b
    def feed(self, data, eos):
        self.buf += data
        if self.co:
            try: self.co.send(None)
            except StopIteration: self.co = None
        need(self.co or not self.buf, "bad-archive", f"byte {self.off}: data after the end of the archive")
        if not eos: return
        if self.co: self.bad("truncated archive")
        for full, mode, ns in reversed(self.dirs):  # modes last, so that read-only directories could be filled
            os.chmod(full, mode)
            os.utime(full, ns=(ns, ns))
        os.sync()  # put_tree flushes once, before its result (9.6)
    def parse(self):
        if (yield from self.take(4)) != b"RTA1": raise ProtoError("bad-archive", "byte 0: bad magic")
        while (t := (yield from self.take(1))) != b"E":
            self.at = self.off - 1
            if t not in (b"d", b"f", b"l"): self.bad(f"type byte 0x{t[0]:02x}")
            plen = struct.unpack(">H", (yield from self.take(2)))[0]
            if not 1 <= plen <= 4096: self.bad(f"path length {plen}")
            path = yield from self.take(plen)
            mode, mtime = struct.unpack(">Iq", (yield from self.take(12)))
            size = struct.unpack(">Q", (yield from self.take(8)))[0] if t == b"f" else 0
            if t == b"l":
                tlen = struct.unpack(">H", (yield from self.take(2)))[0]
                if not 1 <= tlen <= 4096: self.bad(f"target length {tlen}")
                target = yield from self.take(tlen)
                if b"\0" in target: self.bad("NUL in the link target")
            if path.startswith(b"/") or b"\0" in path or {b"", b".", b".."} & set(path.split(b"/")):
                self.bad(f"bad path {path!r}")
            if mode > 0o7777: self.bad(f"mode {mode:o}")
            rel = os.fsdecode(path)
            parent = os.path.realpath(os.path.dirname(os.path.join(self.root, rel)))  # `..`, earlier symlinks (9.6)
            need(inside(parent, self.root), "path-outside-workdir", f"entry {self.n + 1}: {rel!r} lands outside the tree")
            os.makedirs(parent, exist_ok=True)  # a missing parent: created
            full, ns = os.path.join(parent, os.path.basename(rel)), mtime * 10**6
            if t == b"d":
                if not os.path.isdir(full) or os.path.islink(full):
                    if os.path.lexists(full): rm_tree(full)
                    os.mkdir(full, 0o700)  # writable while filled, whatever its final mode
                self.dirs.append((full, mode, ns))
            elif t == b"l":  # an existing entry is replaced; the text is not confined (following it is)
                if os.path.lexists(full): rm_tree(full)
                os.symlink(os.fsdecode(target), full)
                os.utime(full, ns=(ns, ns), follow_symlinks=False)
            else:  # like write: a temporary file, renamed when complete
                self.fs.new_temp(parent)
                while size:
                    chunk = yield from self.take(min(size, 1 << 20), some=True)
                    self.fs.f.write(chunk)
                    size, self.bytes = size - len(chunk), self.bytes + len(chunk)
                self.fs.place(full, mode, mtime, False)
            self.n += 1

# ---- the session (7, 8, 9, 10, 11) ----

class Session:
    """One authenticated connection: a poll loop over the socket and the children's pipes."""
    def __init__(self, agent, sock, framer, hello, welcome):
        self.agent, self.sock, self.framer, self.work = agent, sock, framer, agent.work
        caps = dict(hello.get("capabilities") or {}, type="hello")
        self.peer_frame = fld(caps, "max_frame", int, 65536, 65536, 1048576)
        self.peer_window = fld(caps, "window", int, 65536, 65536, MAX_CREDIT)
        self.keepalive = fld(welcome, "keepalive_s", int, 15, 1, 3600)
        self.dead_after = fld(welcome, "dead_after_s", int, 3 * self.keepalive, self.keepalive + 1, 10800)
        self.deflate = "deflate" in (welcome.get("codecs") or [])
        self.out, self.chans = bytearray(), {}
        self.seq_out = self.seq_in = self.unacked = self.unacked_bytes = 0
        self.unacked_since, self.last_rx, self.last_tx = 0.0, time.monotonic(), time.monotonic()
        sock.setblocking(False)

    # -- sending: every frame goes into self.out, written as the socket allows --
    def send(self, typ, chan, payload, flags=0, stream=0, sequenced=True):
        self.seq_out += sequenced  # CONTROL, DATA, WINDOW are numbered from 1 (7.1); ACK, PING, PONG carry 0
        self.out += frame(typ, chan, payload, self.seq_out if sequenced else 0, flags, stream)
        self.last_tx = time.monotonic()
    def control(self, chan, msg):
        DEBUG and log(f"-> {chan}", msg)
        self.send(CONTROL, chan, json.dumps(msg, ensure_ascii=False).encode())
    def send_data(self, ch, stream, data, eos=False):
        """DATA within credit, deflated when that pays (10.2). Each deflated frame ends with a full flush, so a
        frame sent raw instead leaves no history in the master's decoder that it never saw."""
        assert len(data) <= ch.tx
        ch.tx -= len(data)
        flags, payload = EOS if eos else 0, data
        if len(data) > 64 and self.deflate:
            c = ch.comp.get(stream) or ch.comp.setdefault(stream, zlib.compressobj(1, zlib.DEFLATED, -15))
            z = c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)
            if len(z) < len(data): flags, payload = flags | DEFLATE, z
        self.send(DATA, ch.id, payload, flags, stream)
    def grant(self, ch, n):
        """Credit back for consumed bytes, batched at half the window (11); nothing after our close."""
        ch.used += n
        if ch.used >= CAPS["window"] // 2 and not ch.closed:
            self.send(WINDOW, ch.id, struct.pack(">I", ch.used))
            ch.rx, ch.used = ch.rx + ch.used, 0
    def close_chan(self, ch):
        if not ch.closed: self.control(ch.id, {"type": "close"})
        ch.closed = True
    def fail(self, ch, tag, message):
        """A channel error (9.4): error, then close; other channels go on."""
        if ch.closed: return
        ch.abort()
        self.control(ch.id, {"type": "error", "tag": tag, "message": message})
        self.close_chan(ch)
    def guard(self, ch, fn, *args):
        try: fn(*args)
        except ProtoError as e:
            if e.conn: raise
            self.fail(ch, e.tag, str(e))
        except OSError as e:
            self.fail(ch, ERRNO_TAGS.get(e.errno, "io-error"), f"{e.filename or ''}: {e.strerror or e}".lstrip(": "))
    def flush(self):
        while self.out:
            try: n = self.sock.send(self.out[:65536])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError): break
            del self.out[:n]

    # -- receiving --
    def on_socket(self):
        while True:
            try: d = self.sock.recv(262144)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError): return
            if not d: raise PeerGone("the master closed the connection")
            self.last_rx = time.monotonic()
            self.framer.feed(d)
    def on_frame(self, h, payload):
        length, typ, flags, stream, _, chan, seq = h
        if typ == ACK:  # we keep no replay buffer (no resume), so an ACK is only checked
            n = struct.unpack(">Q", payload)[0]
            return need(n <= self.seq_out, "bad-sequence", f"ACK of {n}, only {self.seq_out} sent", True)
        if typ == PING: return self.send(PONG, 0, payload, sequenced=False)
        if typ == PONG: return
        if typ == CONTROL and chan == 0 and seq == 0:  # an unsequenced error ends the connection (7.1)
            m = parse_msg(payload, True)
            if m["type"] == "error": raise PeerGone(f"master error {m.get('tag')}: {m.get('message')}")
        need(0 < seq <= self.seq_in + 1, "bad-sequence", f"seq {seq} after {self.seq_in}", True)
        if seq <= self.seq_in: return  # a duplicate from a replay: dropped
        self.seq_in, self.unacked, self.unacked_bytes = seq, self.unacked + 1, self.unacked_bytes + 20 + length
        self.unacked_since = self.unacked_since or time.monotonic()
        if self.unacked >= 64 or self.unacked_bytes >= 1 << 20: self.ack()
        ch = self.chans.get(chan)
        if typ == CONTROL: return self.on_control(chan, ch, payload)
        need(ch is not None, "bad-channel", f"DATA or WINDOW for channel {chan}, which is not open", True)
        if ch.closed: return  # in flight when we closed: dropped, credit unchecked (9.3)
        if typ == DATA: return self.guard(ch, self.on_data, ch, flags, stream, payload)
        inc = struct.unpack(">I", payload)[0]
        need(1 <= inc and ch.tx + inc <= MAX_CREDIT, "flow-control", f"WINDOW of {inc} on channel {chan}", True)
        ch.tx += inc
    def on_data(self, ch, flags, stream, payload):
        codec, eos, data = flags & 3, bool(flags & EOS), payload
        need(stream in ch.accept, "bad-channel", f"DATA on stream {stream}, which this channel does not take")
        st = ch.ins.setdefault(stream, [0, None, False])
        need(not st[2], "bad-channel", f"DATA on stream {stream} after its end")
        if codec:
            need(codec == DEFLATE and st[0] in (0, codec), "codec-error", f"codec {codec} not negotiated or switched", True)
            st[0], st[1] = codec, st[1] or zlib.decompressobj(-15)
            try:
                need(not st[1].eof, "codec-error", "deflate data after a final block", True)
                data = st[1].decompress(payload, ch.rx + 1)  # stop just past the credit: a bomb is caught (11)
                need(not st[1].unused_data, "codec-error", "deflate data after a final block", True)
            except zlib.error as e:
                raise ProtoError("codec-error", f"channel {ch.id} stream {stream}: {e}", True)
        need(len(data) <= ch.rx, "flow-control", f"DATA beyond credit on channel {ch.id}", True)
        ch.rx, st[2] = ch.rx - len(data), eos
        ch.on_data(stream, data, eos)
    def on_control(self, cid, ch, payload):
        DEBUG and log(f"<- {cid}", payload.decode(errors="replace")[:300])
        if cid == 0:
            t = parse_msg(payload, True)["type"]
            if t in ("error", "goodbye"): raise PeerGone(f"master {t}: {payload.decode(errors='replace')}")
            raise ProtoError("bad-message" if t in ("hello", "welcome", "challenge") else "unknown-message", t, True)
        try: m = parse_msg(payload, False)
        except ProtoError as e:
            if ch is None:  # malformed, for a free id: it can only be a failed open, which ends that channel
                need(cid % 2 and len(self.chans) < CAPS["max_channels"], "bad-channel", f"bad message on {cid}", True)
                ch = self.chans[cid] = Chan(self, cid)
            return self.fail(ch, e.tag, str(e))
        t = m["type"]
        if t == "open":
            need(ch is None and cid % 2, "bad-channel", f"open of channel {cid}: in use or not a master's id", True)
            need(len(self.chans) < CAPS["max_channels"], "limit-exceeded", f"over {CAPS['max_channels']} channels", True)
            return self.open(cid, m)
        need(ch is not None, "bad-channel", f"{t} for channel {cid}, which is not open", True)
        if t in ("close", "error"):  # the master abandons, fails, or answers our close (9.3)
            if not ch.closed: ch.abort()
            self.close_chan(ch)
            if t == "close": del self.chans[cid]
        elif ch.closed or t == "resize": pass  # sent before our close reached the master; we have no terminal
        elif t == "signal" and isinstance(ch, Exec): self.guard(ch, ch.signal, m)
        else: self.fail(ch, "bad-channel" if t in ("signal", "opened", "result") else "unknown-message", f"{t} here")
    def open(self, cid, m):
        kind = m.get("kind")
        ch = self.chans[cid] = {"exec": Exec, "fs": Fs}.get(str(kind), Chan)(self, cid)  # Chan: nothing runs
        if kind == "notice": return self.guard(ch, self.notice, ch, m)
        if type(ch) is Chan: return self.fail(ch, "unsupported", f"channel kind {kind!r}")
        self.guard(ch, ch.start, m)
    def notice(self, ch, m):
        """9.8: shown in our log, kept in messages.log, a rename applied; acknowledged by an empty result."""
        text, rename = fld(m, "text", str, ""), fld(m, "rename", str, None, hi=256)
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{fld(m, 'id', str, '', hi=256)}] {fld(m, 'from', str, '?', hi=256)}: {text}"
        log("notice:", line)
        with open(os.path.join(self.agent.cfg_dir, "messages.log"), "a") as f:
            f.write(line + (f" (renamed to {rename})" if rename else "") + "\n")
        if rename:
            self.agent.cfg["name"] = rename
            save_cfg(self.agent.cfg_dir, self.agent.cfg)
        ch.finish()
    def ack(self):
        self.send(ACK, 0, struct.pack(">Q", self.seq_in), sequenced=False)
        self.unacked, self.unacked_bytes, self.unacked_since = 0, 0, 0.0
    def resolve(self, p, follow, what="path"):
        """9.6 confinement: `..` and symlinks resolved; the final component kept as is unless following."""
        need(isinstance(p, str) and p and "\0" not in p and len(p.encode()) <= 4096, "bad-message",
             f"open.{what}: must be a path of 1..4096 bytes without NUL")
        full = os.path.join(self.work, p)
        head, tail = os.path.split(full.rstrip("/") or "/")
        real = os.path.realpath(full) if follow or tail in ("", ".", "..") else os.path.join(os.path.realpath(head), tail)
        need(inside(real, self.work), "path-outside-workdir", f"{p}: outside the work directory")
        return real

    # -- the loop --
    def run(self):
        try:
            while not self.agent.stopping:
                while self.framer.ready: self.on_frame(*self.framer.ready.pop(0))
                now = time.monotonic()
                need(now - self.last_rx <= self.dead_after, "keepalive-timeout", f"silence for {self.dead_after} s", True)
                if now - self.last_tx >= self.keepalive: self.send(PING, 0, os.urandom(8), sequenced=False)
                if self.unacked and now - self.unacked_since >= 0.2: self.ack()  # idle: ACK well within 1 s (7.2)
                waits = {}  # fd -> (poll events, callback), rebuilt each round from what every channel can take
                for ch in list(self.chans.values()): self.guard(ch, ch.pump, waits)
                self.flush()
                waits[self.sock.fileno()] = (select.POLLIN | (select.POLLOUT if self.out else 0), self.on_socket)
                waits[self.agent.wake_r] = (select.POLLIN, self.agent.reap_zombies)
                poller = select.poll()
                for fd, (ev, _) in waits.items(): poller.register(fd, ev)
                for fd, _ in poller.poll(200 if self.unacked else 1000): waits[fd][1]()
            self.control(0, {"type": "goodbye", "reason": "the agent is stopping"})
            self.sock.settimeout(2)
            self.sock.sendall(self.out)
        except ProtoError as e:  # a connection error: say so, unsequenced (7.1), and close
            log(f"connection error {e.tag}: {e}")
            self.sock.settimeout(2)
            error = frame(CONTROL, 0, json.dumps({"type": "error", "tag": e.tag, "message": str(e)}).encode())
            try: self.sock.sendall(bytes(self.out) + error)
            except OSError: pass
        finally:
            for ch in self.chans.values(): ch.abort()  # no resume: the session's work ends with it (7.3)
            self.sock.close()

# ---- the agent process ----

class Agent:
    def __init__(self, cfg_dir, plaintext):
        self.cfg_dir, self.plaintext = cfg_dir, plaintext
        with open(os.path.join(cfg_dir, "agent.json")) as f: self.cfg = json.load(f)
        if self.cfg.get("plaintext") and not plaintext:
            sys.exit("remsh-agent: this agent was enrolled with a plaintext master: add --insecure-plaintext")
        self.work, self.zombies, self.stopping = os.path.realpath(self.cfg["work_dir"]), [], False
        self.wake_r, wake_w = os.pipe()
        for fd in (self.wake_r, wake_w): os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_w)  # a signal wakes the poll: SIGCHLD ends the wait at once
        signal.signal(signal.SIGCHLD, lambda *a: None)
        for s in (signal.SIGTERM, signal.SIGINT): signal.signal(s, lambda *a: setattr(self, "stopping", True))
    def reap_zombies(self):
        try: os.read(self.wake_r, 4096)
        except BlockingIOError: pass
        for pid in list(self.zombies):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]: self.zombies.remove(pid)
            except ChildProcessError: self.zombies.remove(pid)
    def run(self):
        delay = 1.0
        while not self.stopping:
            try:
                sock, framer, peer, welcome = handshake(self.cfg, self.plaintext, self.work)
                log(f"connected to {self.cfg['master']} as {self.cfg['name']}, session {welcome.get('session')}")
                delay = 1.0
                Session(self, sock, framer, peer, welcome).run()
            except PeerGone as e:
                log(e)
                if "auth-failed" in str(e): sys.exit(1)  # unknown or revoked: retrying cannot help
            except (OSError, ProtoError, ValueError, KeyError) as e:
                log(f"connection lost: {e}")
            except Exception:  # a bug must not kill the agent: log it, start a fresh session
                log("internal error:", traceback.format_exc())
            end = time.monotonic() + delay * random.uniform(0.5, 1.0)  # exponential backoff with jitter (7.3)
            while not self.stopping and time.monotonic() < end:
                time.sleep(0.1)
                self.reap_zombies()
            delay = min(delay * 2, 30.0)
        log("stopped")

def save_cfg(cfg_dir, cfg):
    """agent.json holds the secret: mode 0600 from creation on, replaced atomically."""
    os.makedirs(cfg_dir, mode=0o700, exist_ok=True)
    path = os.path.join(cfg_dir, "agent.json")
    with open(os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        os.fchmod(f.fileno(), 0o600)
        json.dump(cfg, f, indent=1)
    os.replace(path + ".tmp", path)

def enroll(a):
    """6.4: trade the token's secret for a name and a secret, over the pinned connection."""
    try:  # remsh1_ + base64url(JSON {"m": HOST:PORT, "f": fingerprint, "s": secret, "p": plaintext})
        body = a.token.split("_", 1)[1]
        tok = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        cfg = {"master": tok["m"], "fingerprint": tok.get("f") or "", "plaintext": bool(tok.get("p"))}
    except (IndexError, ValueError, KeyError, TypeError):
        sys.exit("remsh-agent: not an enrollment token (remsh1_...)")
    if cfg["plaintext"] != a.insecure_plaintext:
        sys.exit("remsh-agent: the token is for a plaintext master: add --insecure-plaintext" if cfg["plaintext"]
                 else "remsh-agent: --insecure-plaintext given, but the token is for a TLS master")
    name, work = a.name or socket.gethostname(), os.path.realpath(a.work_dir or os.path.join(a.config_dir, "work"))
    os.makedirs(work, exist_ok=True)
    try:
        sock, _, _, got = handshake(dict(cfg, name=name), cfg["plaintext"], work, tok["s"])
        sock.close()
    except (OSError, PeerGone, ProtoError) as e:
        sys.exit(f"remsh-agent: enrollment failed: {e}")
    name = got.get("agent") or name
    save_cfg(a.config_dir, dict(cfg, name=name, secret=got["secret"], work_dir=work))
    print(f"enrolled as {name}; start it with: {sys.argv[0]} run --config-dir {a.config_dir}")

def main():
    ap = argparse.ArgumentParser(description="a remsh agent in Python (docs/protocol.md v1)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("enroll", help="trade an enrollment token for this agent's credentials")
    e.add_argument("token")
    r = sub.add_parser("run", help="connect to the master and run what it asks, until SIGTERM")
    for p in (e, r):
        p.add_argument("--config-dir", required=True)
        p.add_argument("--insecure-plaintext", action="store_true", help="no TLS (loopback tests only)")
    e.add_argument("--name", help="the agent's name (default: the host name)")
    e.add_argument("--work-dir", help="where commands run, the root of every path (default: CONFIG_DIR/work)")
    a = ap.parse_args()
    enroll(a) if a.cmd == "enroll" else Agent(a.config_dir, a.insecure_plaintext).run()

if __name__ == "__main__":
    main()
