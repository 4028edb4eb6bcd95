#!/usr/bin/env python3
"""remsh_agent.py: a remsh agent (docs/protocol.md, version 1) in standard-library Python 3.8+. See README.md."""
import argparse, base64, contextlib, errno, fnmatch, hashlib, hmac, json, math, os, platform, random, select
import shutil, signal, socket, ssl, stat, struct, subprocess, sys, tempfile, time, traceback, zlib

SOFTWARE, MAGIC = "remsh-agent-py/0.1.0", b"remsh\0"
CONTROL, DATA, WINDOW, ACK, PING, PONG = range(1, 7)
HDR = struct.Struct(">IBBBBIQ")  # length, type, flags, stream, reserved, channel, seq (4.1)
EOS, DEFLATE, MAX_CREDIT = 4, 1, 2**31 - 1
CAPS = {"codecs": ["deflate"], "resume": False, "pty": False, "max_channels": 64, "max_frame": 262144,
        "window": 2 << 20, "replay_bytes": 1 << 20, "keepalive_s": 15}
HIGH = 1 << 20  # stop reading children and files while this much waits for the socket
DEBUG = bool(os.environ.get("REMSH_AGENT_DEBUG"))
os.umask(UMASK := os.umask(0o22))  # reads the umask (by setting it) and puts it back
ERRNO_TAGS = {errno.ENOENT: "not-found", errno.EEXIST: "exists", errno.ENOTEMPTY: "exists", errno.ENOSPC: "disk-full",
              errno.EDQUOT: "disk-full", errno.ENOTDIR: "not-a-directory", errno.EISDIR: "is-a-directory",
              **dict.fromkeys((errno.EACCES, errno.EPERM, errno.EROFS), "permission-denied")}
KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "directory", stat.S_IFLNK: "symlink"}  # entry types (9.6), else other

class ProtoError(Exception):  # an error with a section-12 tag; conn=True ends the connection, else only its channel
    def __init__(self, tag, message, conn=False):
        super().__init__(message)
        self.tag, self.conn = tag, conn

def need(ok, tag, message, conn=False):
    if not ok: raise ProtoError(tag, message, conn)
def log(*a): print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)
def inside(p, root): return p == root or p.startswith(root.rstrip("/") + "/")
def named(key, name):  # 9.6: a name whose bytes are not UTF-8 goes as KEY_b64, in unpadded base64url
    try: return {key: os.fsencode(name).decode()}
    except UnicodeDecodeError: return {key + "_b64": base64.urlsafe_b64encode(os.fsencode(name)).decode().rstrip("=")}
def name(m, key):  # KEY or KEY_b64 (9.6) as a str (undecodable bytes as surrogates); None when absent
    text, b64 = m.get(key), m.get(key + "_b64")
    need(text is None or b64 is None, "bad-message", f"open.{key}: given as text and in base64")
    try: return text if b64 is None else [unb64(x) for x in b64] if isinstance(b64, list) else unb64(b64)
    except (ValueError, TypeError): raise ProtoError("bad-message", f"open.{key}_b64: not unpadded base64url")
def unb64(x):  # canonical only: the one text that encodes these bytes
    b = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    if base64.urlsafe_b64encode(b).decode().rstrip("=") != x: raise ValueError(x)
    return os.fsdecode(b)

# ---- control messages (5) and frames (4) ----
def parse_msg(payload, conn):  # every failure is bad-message (5)
    def depth(v):  # how deep arrays and objects nest in v
        return isinstance(v, (dict, list)) and 1 + max(map(depth, v.values() if isinstance(v, dict) else v), default=0)
    try:  # dumps refuses NaN, Infinity (not JSON), numbers beyond a double (inf here) and lone surrogates ("\ud800")
        m = json.loads(payload.decode(), parse_int=lambda s: int(s) if math.isfinite(float(s)) else math.inf)
        json.dumps(m, ensure_ascii=False, allow_nan=False).encode()
        nesting = depth(m)
    except (ValueError, RecursionError) as e:  # UnicodeError is a ValueError
        raise ProtoError("bad-message", f"invalid JSON: {e}", conn)
    need(nesting <= 16, "bad-message", "nesting deeper than 16", conn)
    t = m.get("type") if isinstance(m, dict) else None
    need(isinstance(t, str) and 0 < len(t.encode()) <= 256, "bad-message", "no object with a 1..256-byte type", conn)
    return m
def fld(m, name, kind, default=None, lo=None, hi=None, req=False):  # checked, named in the error (5); null: absent
    v, where = m.get(name), f"{m['type']}.{name}"
    def bad(ok, why): need(ok, "bad-message", f"{where}: {why}")
    bad(v is not None or not req, "missing")
    if v is None: return default
    bad(isinstance(v, kind) and not (kind is int and isinstance(v, bool)), f"not {kind.__name__}")
    if kind is int: bad((lo is None or v >= lo) and (hi is None or v <= hi), f"not in {lo}..{hi}")
    if kind is str: bad(len(v.encode()) <= (hi or 32768), f"over {hi or 32768} bytes")
    return v
def check_header(length, typ, flags, stream, rsv, chan, seq):  # before the payload is read, in the order of 4.4
    def bad(ok, why): need(ok, "bad-frame", why, True)
    bad(not rsv, "reserved byte not 0")
    bad(CONTROL <= typ <= PONG, f"frame type {typ}")
    bad(typ == DATA or not flags | stream, "flags or stream outside DATA")
    limit = {CONTROL: 65536, DATA: CAPS["max_frame"]}.get(typ, length)
    need(length <= limit, "frame-too-large", f"{length} bytes, over {limit}", True)
    bad(typ in (CONTROL, DATA) or length == (4 if typ == WINDOW else 8), "wrong payload size")
    bad(not flags & 0xF8 and flags & 3 != 3, "reserved DATA flags")
    bad(chan != 0 if typ in (DATA, WINDOW) else typ == CONTROL or not chan | seq, "wrong channel, or a seq")
    bad(length or typ != CONTROL and flags & EOS or typ not in (CONTROL, DATA), "empty frame")
def frame(typ, chan, payload, seq=0, flags=0, stream=0):
    return HDR.pack(len(payload), typ, flags, stream, 0, chan, seq) + payload
class Framer:  # cuts received bytes into the greeting (3), then frames (4.4), whatever the read boundaries
    def __init__(self): self.buf, self.greeted, self.ready = bytearray(), False, []
    def feed(self, data):
        if not data: raise ConnectionError("the master closed the connection")
        self.buf += data
        if not self.greeted and len(self.buf) >= 8:
            if self.buf[:6] != MAGIC or self.buf[6:8] == b"\0\0":  # bad-banner: nothing is sent, we just close
                raise ConnectionError("bad-banner: the peer is not a remsh master")
            self.buf, self.greeted = self.buf[8:], True
        while self.greeted and len(self.buf) >= 20:
            h = HDR.unpack_from(self.buf)
            check_header(*h)
            if len(self.buf) < 20 + h[0]: return
            self.ready.append((*h, bytes(self.buf[20:20 + h[0]])))
            del self.buf[:20 + h[0]]

# ---- connection, greeting, handshake (2, 3, 6) ----
def handshake(cfg, plaintext, work, token=None):  # connects, greets, says hello, enrols or authenticates (2, 3, 6)
    host, port = cfg["master"].rsplit(":", 1)
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=15)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not plaintext:  # no CA, no host name: the pin decides
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode, ctx.minimum_version = False, ssl.CERT_NONE, ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")  # TLS 1.2 only with ECDHE and AEAD
        sock = ctx.wrap_socket(sock)
        got = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
        if not hmac.compare_digest(got, cfg["fingerprint"].lower()):  # dropped, as on any failure here
            raise ConnectionError(f"master certificate {got} does not match the pinned fingerprint")
    framer, nonce = Framer(), os.urandom(32).hex()
    def send(msg): sock.sendall(frame(CONTROL, 0, json.dumps(msg, ensure_ascii=False).encode(errors="replace")))
    def recv(want):  # handshake messages: CONTROL on channel 0 with seq 0, each in its turn (6.1)
        while not framer.ready: framer.feed(sock.recv(65536))
        _, typ, _, _, _, chan, seq, payload = framer.ready.pop(0)
        need(typ == CONTROL and not chan | seq, "bad-message", f"expected {want}, got a frame of type {typ}", True)
        m = parse_msg(payload, True)
        if m["type"] == "error": raise ConnectionError(f"{m.get('tag')}: {m.get('message')}")
        need(m["type"] == want, "bad-message", f"expected {want}, got {m['type']}", True)
        return m
    sock.sendall(MAGIC + struct.pack(">H", 1))  # sent without waiting; we speak version 1 only
    hello = dict(type="hello", version=1, role="agent", software=SOFTWARE, capabilities=CAPS, facts=facts(work))
    send(hello if token else dict(hello, agent=cfg["name"], nonce=nonce))  # no name nor nonce when enrolling
    peer = recv("hello")
    if token: send({"type": "enroll", "token": token, "name": cfg["name"]})
    else: send({"type": "auth", "proof": proof(cfg["secret"], cfg["name"], nonce,
                                                fld(recv("challenge"), "nonce", str, req=True, hi=64))})
    return sock, framer, peer, recv("enrolled" if token else "welcome")  # framer: it may hold frames read already
def facts(work):  # opaque to the protocol; the master shows these keys (6.2)
    u, vfs = os.uname(), os.statvfs(work)
    try: distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except (OSError, AttributeError): distro = ""
    return {"os": f"{u.sysname} {u.release}", "os_version": distro, "arch": u.machine, "cpus": os.cpu_count(),
            "memory_mb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20, "hostname": u.nodename,
            "disk_free_mb": vfs.f_bavail * vfs.f_frsize >> 20, "work_dir": work, "software": SOFTWARE,
            "policy": {"confine": True, "allow_shell": False, "allow_paths": [], "deny_env": []}}  # no max_concurrent
def proof(secret_hex, agent, agent_nonce, master_nonce):  # 6.3: client_key ^ HMAC(SHA256(client_key), auth_message)
    client_key = hmac.new(bytes.fromhex(secret_hex), b"remsh client key", hashlib.sha256).digest()
    message = f"remsh-auth-v1,{agent},{agent_nonce},{master_nonce}".encode()
    signature = hmac.new(hashlib.sha256(client_key).digest(), message, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(client_key, signature)).hex()

# ---- file-system helpers (9.6) ----
def rm_tree(p):
    st = os.lstat(p)
    if not stat.S_ISDIR(st.st_mode): return os.unlink(p)
    if st.st_mode & 0o700 != 0o700: os.chmod(p, st.st_mode | 0o700)  # a read-only directory, emptied all the same
    for n in os.listdir(p): rm_tree(os.path.join(p, n))
    os.rmdir(p)
def walk(full, recursive):  # (relative path, full path, lstat): names sorted bytewise, a directory first (9.6)
    st = os.lstat(full)  # now, so that not-found comes before `opened`
    if not stat.S_ISDIR(st.st_mode): return [(os.path.basename(full), full, st)]
    def rec(d, prefix, names):
        for n in sorted(names, key=os.fsencode):
            p, rel = os.path.join(d, n), prefix + n
            yield rel, p, (st := os.lstat(p))
            if recursive and stat.S_ISDIR(st.st_mode): yield from rec(p, rel + "/", os.listdir(p))
    return rec(full, "", os.listdir(full))
def entry(full, st, want_hash):
    kind = KINDS.get(stat.S_IFMT(st.st_mode), "other")
    e = {"type": kind, "size": st.st_size if kind in ("file", "symlink") else 0, "mode": st.st_mode & 0o7777,
         "mtime_ms": st.st_mtime_ns // 10**6}
    if kind == "symlink": e.update(named("target", os.readlink(full)))
    if kind == "file" and want_hash: e["sha256"] = file_hash(full)["sha256"]
    return e
def hashed(f, res):  # f's chunks to its end; then res holds their size and sha256 (file_hash, read)
    h = hashlib.sha256()
    with f:
        while chunk := f.read(1 << 18):
            h.update(chunk)
            res["size"] += len(chunk)
            yield chunk
    res["sha256"] = h.hexdigest()
def file_hash(path):
    for _ in hashed(open(path, "rb"), res := {"size": 0}): pass
    return res

# ---- channels (9) ----
class Chan:  # a channel: credit both ways (11) and its incoming stream (10); kinds override the hooks
    accept, closed, used = (), False, 0  # the stream the master may send, till its end; our close sent; credit consumed
    def __init__(self, sess, cid):
        self.s, self.id, self.dec = sess, cid, None  # the incoming stream's decoder
        self.tx, self.rx = sess.peer_window, CAPS["window"]  # our credit, the master's
    def finish(self, **result):
        self.s.control(self.id, {"type": "result", **result})
        self.s.close_chan(self)
    def start(self, m): raise ProtoError("unsupported", f"channel kind {m.get('kind')!r}")
    on_data = pump = abort = lambda self, *a: None  # hooks: DATA received, each loop round, the channel's end

class Exec(Chan):  # kind exec (9.5): a process in its own group; its pipes are read only while there is credit
    p = status = reason = None
    def start(self, m):
        argv, shell = fld(m, "argv", list), fld(m, "shell", str)
        need(not fld(m, "interactive", bool), "policy-denied", "this agent's owner does not allow shells")
        need(fld(m, "pty", dict) is None, "unsupported", "no pseudo-terminals here (capability pty: false)")
        need((argv is None) != (shell is None), "bad-message", "open: exactly one of argv and shell")
        need(shell is not None or 0 < len(argv) <= 4096 and all(isinstance(a, str) for a in argv) and argv[0],
             "bad-message", "open.argv: 1..4096 strings, the first not empty")
        need("\0" not in (shell or "".join(argv)), "bad-message", "open: a NUL in argv or shell")  # exec cannot pass it
        env, extra = {} if fld(m, "env_clear", bool) else dict(os.environ), fld(m, "env", dict, {})
        need(len(extra) <= 4096, "bad-message", "open.env: more than 4096 entries")
        for k, v in extra.items():
            need(k and not {"=", "\0"} & set(k) and len(k.encode()) <= 256 and (v is None or isinstance(v, str)
                 and "\0" not in v and len(v.encode()) <= 32768), "bad-message", f"open.env: bad entry {k!r}")
            env.pop(k, None) if v is None else env.update({k: v})
        self.timeout, self.quiet = (fld(m, k, int, None, 1, 31622400) for k in ("timeout_s", "no_output_timeout_s"))
        cwd = self.s.resolve(fld(m, "cwd", str, "."), True, "cwd")
        self.accept = (0,) if fld(m, "stdin", bool, False) else ()
        try: self.p = subprocess.Popen(argv or ["/bin/sh", "-c", shell], cwd=cwd, env=env, start_new_session=True,
                                       stdin=subprocess.PIPE if self.accept else subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:  # it names the program, or the cwd, that failed
            raise ProtoError("exec-failed", f"{e.filename or (argv or ['/bin/sh'])[0]}: {e.strerror}")
        for f in filter(None, (self.p.stdin, self.p.stdout, self.p.stderr)): os.set_blocking(f.fileno(), False)
        self.outs, self.inbuf, self.in_eof = {1: self.p.stdout, 2: self.p.stderr}, bytearray(), False
        self.t0 = self.last_out = time.monotonic()
        self.s.control(self.id, {"type": "opened", "pid": self.p.pid})
    def pump(self, waits):
        if self.closed or self.p is None: return
        if self.tx > 0 and len(self.s.out) < HIGH:  # no credit or no room: the pipes wait and the child blocks (11)
            for stream, f in self.outs.items():
                waits[f.fileno()] = (select.POLLIN, lambda st=stream: self.s.guard(self, self.read, st))
        if self.inbuf: waits[self.p.stdin.fileno()] = (select.POLLOUT, lambda: self.s.guard(self, self.write_stdin))
        if self.status is None: self.reap()
        quiet = self.quiet and time.monotonic() - self.last_out > self.quiet
        if self.reason is None and (quiet or self.timeout and time.monotonic() - self.t0 > self.timeout):
            self.reason = "no-output-timeout" if quiet else "timeout"  # checked until the output ends (9.5)
            self.kill(signal.SIGKILL)
        if self.status is not None and not self.outs:  # the result comes after both outputs ended (9.5)
            self.finish(**dict(self.status, reason=self.reason or self.status["reason"]))
    def read(self, stream):
        if self.p is None or stream not in self.outs or not self.tx: return  # aborted, or credit gone this round
        d = os.read(self.outs[stream].fileno(), min(self.tx, self.s.peer_frame))  # poll said it will not block
        if d: self.last_out = time.monotonic()
        else: self.outs.pop(stream).close()  # end of this output: an empty end-of-stream frame
        self.s.send_data(self, stream, d, not d)
    def write_stdin(self):
        if self.p is None or self.p.stdin.closed: return
        try: n = os.write(self.p.stdin.fileno(), self.inbuf[:65536])
        except BlockingIOError: return
        except OSError: n, self.in_eof = len(self.inbuf), True  # the child closed its stdin: all counts as consumed
        del self.inbuf[:n]
        self.s.grant(self, n)  # credit for what the consumer took, not for what arrived (11)
        if self.in_eof and not self.inbuf: self.p.stdin.close()
    def on_data(self, stream, data, eos):
        if self.p.stdin.closed: return self.s.grant(self, len(data))  # stdin gone: drop, keep the credit flowing
        self.inbuf, self.in_eof = self.inbuf + data, eos
        self.write_stdin()
    def reap(self):
        pid, st, ru = os.wait4(self.p.pid, os.WNOHANG)
        if not pid: return
        self.p.returncode, sig = st, os.WIFSIGNALED(st) and os.WTERMSIG(st)  # returncode set: Popen must not wait
        self.status = {"elapsed_ms": int((time.monotonic() - self.t0) * 1000), "cpu_user_ms": int(ru.ru_utime * 1000),
                       "cpu_system_ms": int(ru.ru_stime * 1000), "max_rss_kb": ru.ru_maxrss, "reason": "exited"}
        if sig: self.status.update(reason="signaled", signal={s: s.name[3:] for s in signal.Signals}.get(sig, str(sig)))
        else: self.status["exit_code"] = os.WEXITSTATUS(st)
    def kill(self, sig, group=True):  # the group while output is open: it outlives its reaped leader (sleep 9 & wait)
        if self.status is None or group and self.outs:
            with contextlib.suppress(OSError): os.killpg(self.p.pid, sig) if group else os.kill(self.p.pid, sig)
    def signal(self, m):
        name = fld(m, "signal", str, req=True)
        need(name in "INT TERM KILL HUP QUIT USR1 USR2".split(), "bad-message", f"signal.signal: {name!r} (9.2)")
        self.kill(getattr(signal, "SIG" + name), fld(m, "group", bool, True))
    def abort(self):
        if self.p is None: return
        self.kill(signal.SIGKILL)
        for f in filter(None, [*self.outs.values(), self.p.stdin]): f.close()
        if self.status is None: self.s.agent.zombies.append(self.p)  # reaped later, without blocking
        self.p = None

class Fs(Chan):
    """Kind fs (9.6): one operation. op_X returns its result, or (stream, generator, result) for a reader, whose
    generator is pulled within credit and fills in the result; a writer sets `accept` and eats stream 4."""
    FOLLOW = {"list", "manifest", "mkdir", "chmod", "hash", "read", "put_tree"}  # ops that follow a final symlink
    gen = tmp = f = tree = None
    def start(self, m):
        op = fld(m, "op", str, req=True)
        need(hasattr(self, "op_" + op), "unsupported", f"fs op {op!r}")
        if op != "remove" or name(m, "paths") is None: self.path = self.s.resolve(name(m, "path"), op in self.FOLLOW)
        r = getattr(self, "op_" + op)(m)  # errors found before any work come before opened
        self.s.control(self.id, {"type": "opened"})
        if isinstance(r, tuple): (self.stream, self.gen, self.res), self.pend, self.more = r, bytearray(), True
        elif not self.accept: self.finish(**(r or {}))  # a writer waits for stream 4
    def pump(self, waits):  # frames of up to max_frame, never beyond credit
        while not self.closed and self.gen and len(self.s.out) < HIGH:
            while self.more and len(self.pend) < self.s.peer_frame:
                chunk = next(self.gen, None)
                self.more, self.pend = chunk is not None, self.pend + (chunk or b"")
            n = min(len(self.pend), self.tx, self.s.peer_frame)
            if self.pend and not n: return  # out of credit until a WINDOW
            eos = not self.more and n == len(self.pend)
            self.s.send_data(self, self.stream, bytes(self.pend[:n]), eos)
            del self.pend[:n]
            if eos: self.finish(**self.res)
    def op_stat(self, m):
        if not os.path.lexists(self.path): return {"exists": False}
        return {"exists": True, "entry": entry(self.path, os.lstat(self.path), False)}
    def op_list(self, m, manifest=False):
        want_hash, pattern = fld(m, "hash", bool, False) or manifest, fld(m, "glob", str, None, hi=256)
        items, res = walk(self.path, manifest or fld(m, "recursive", bool, False)), {"entries": 0, "bytes": 0}
        def gen():
            for rel, full, st in items:
                if pattern is not None and not fnmatch.fnmatchcase(os.path.basename(rel), pattern): continue
                e = {**named("path", rel), **entry(full, st, want_hash)}
                res["entries"] += 1
                res["bytes"] += e["size"] if e["type"] == "file" else 0
                yield json.dumps(e, ensure_ascii=False).encode() + b"\n"
        return 1, gen(), res
    def op_manifest(self, m): return self.op_list(m, True)
    def op_mkdir(self, m):
        if os.path.isdir(self.path): return {"created": False}  # anything else there: EEXIST, exists
        os.makedirs(self.path, fld(m, "mode", int, 0o755, 0, 4095))
        return {"created": True}
    def op_remove(self, m):
        paths = fld(dict(type="open", paths=name(m, "paths")), "paths", list)
        need(paths is None or 1 <= len(paths) <= 1024, "bad-message", "open.paths: 1..1024 paths")
        targets = [self.s.resolve(p, False) for p in paths] if paths is not None else [self.path]
        need(self.s.work not in targets, "denied", "will not remove the work directory itself")
        targets = [p for p in targets if os.path.lexists(p)]
        for p in targets: rm_tree(p)
        return {"removed": len(targets)}
    def dest(self, m):
        to = self.s.resolve(name(m, "to"), False, "to")
        if fld(m, "parents", bool): os.makedirs(os.path.dirname(to), exist_ok=True)
        return to
    def op_rename(self, m):
        need(self.path != self.s.work, "denied", "will not rename the work directory")
        os.replace(self.path, self.dest(m))
    def op_copy(self, m):  # links as links, modes and mtimes kept; copytree sets directory modes after filling them
        to, st = self.dest(m), os.lstat(self.path)
        need(not os.path.lexists(to), "exists", f"{name(m, 'to')}: exists")  # copy never replaces (9.6)
        if stat.S_ISDIR(st.st_mode):
            need(not inside(to, self.path), "denied", "will not copy a directory into itself")
            shutil.copytree(self.path, to, symlinks=True)
        else: shutil.copy2(self.path, to, follow_symlinks=False)  # a symlink as a link
        return {"files": len(list(walk(to, True))) + stat.S_ISDIR(st.st_mode)}  # every entry, the top one too
    def op_chmod(self, m): os.chmod(self.path, fld(m, "mode", int, req=True, lo=0, hi=4095))
    def op_hash(self, m): return file_hash(self.path)  # a directory: open() fails with EISDIR, is-a-directory
    def op_read(self, m):
        offset, st = fld(m, "offset", int, 0, 0), os.stat(self.path)
        need(stat.S_ISREG(st.st_mode), "is-a-directory", f"{name(m, 'path')}: not a regular file")
        f, res = open(self.path, "rb"), {"size": 0, "file_size": st.st_size}
        f.seek(offset)
        return 4, hashed(f, res), res
    def op_write(self, m):
        self.size, self.sha = fld(m, "size", int, None, 0), fld(m, "sha256", str, None, hi=64)
        self.mode, self.mtime = fld(m, "mode", int, 0o644 & ~UMASK, 0, 4095), fld(m, "mtime_ms", int)
        if fld(m, "parents", bool): os.makedirs(os.path.dirname(self.path), exist_ok=True)
        need(not os.path.isdir(self.path) or os.path.islink(self.path), "is-a-directory", f"{self.path}: a directory")
        self.new_temp(os.path.dirname(self.path))
        self.h, self.accept = hashlib.sha256(), (4,)
    def op_put_tree(self, m):
        if not os.path.isdir(self.path): os.makedirs(self.path) if fld(m, "parents", bool) else os.mkdir(self.path)
        self.buf, self.off, self.at, self.res = bytearray(), 0, "entry 1 at byte 0", {"entries": 0, "bytes": 0}
        self.tree, self.accept = self.untar(), (4,)
    def op_get_tree(self, m):
        items, res = walk(self.path, True), {"entries": 0, "bytes": 0}
        def gen():
            yield b"RTA1"
            for rel, full, st in items:
                kind = {stat.S_IFDIR: b"d", stat.S_IFREG: b"f", stat.S_IFLNK: b"l"}.get(stat.S_IFMT(st.st_mode))
                if not kind: continue  # sockets, devices: skipped (9.6)
                p = os.fsencode(rel)
                res["entries"] += 1
                yield kind + struct.pack(f">H{len(p)}sIq", len(p), p, st.st_mode & 0o7777, st.st_mtime_ns // 10**6)
                if kind == b"l": yield struct.pack(">H", len(t := os.fsencode(os.readlink(full)))) + t
                if kind != b"f": continue
                with open(full, "rb") as f:
                    yield struct.pack(">Q", st.st_size)
                    for left in range(st.st_size, 0, -(1 << 18)):  # exactly the announced size, or a corrupt archive
                        chunk = f.read(min(left, 1 << 18))
                        need(len(chunk) == min(left, 1 << 18), "io-error", f"{rel}: the file shrank while being read")
                        yield chunk
                res["bytes"] += st.st_size
            yield b"E"
        return 4, gen(), res
    def new_temp(self, directory):  # a .remsh-tmp- file beside the destination; abort() removes it
        self.tmp = os.path.join(directory, f".remsh-tmp-{os.urandom(6).hex()}")
        self.f = open(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    def place(self, dest, mode, mtime_ms, sync):
        self.f.flush()
        if sync: os.fsync(self.f.fileno())
        os.fchmod(self.f.fileno(), mode)
        self.f.close()
        if mtime_ms is not None: os.utime(self.tmp, ns=(mtime_ms * 10**6,) * 2)
        os.replace(self.tmp, dest)  # onto a directory: EISDIR, is-a-directory
        self.tmp = None
    def on_data(self, stream, data, eos):
        if self.tree:  # put_tree: the extractor resumes with the new bytes
            self.buf += data
            ended = next(self.tree, True)  # untar() yields None while it waits, and returns once it read the end
            need(not ended or not self.buf, "bad-archive", f"byte {self.off}: data after the end of the archive")
            if not eos: return self.s.grant(self, len(data))
            if not ended: self.bad("truncated archive")
            os.sync()  # put_tree flushes once, before its result (9.6)
            return self.finish(**self.res)
        self.f.write(data)
        self.h.update(data)
        self.s.grant(self, len(data))
        if not eos: return
        n, digest = self.f.tell(), self.h.hexdigest()
        need((self.size is None or n == self.size) and (self.sha is None or self.sha == digest),
             "verify-failed", f"received {n} bytes with sha256 {digest}")
        self.place(self.path, self.mode, self.mtime, True)
        self.finish(size=n, sha256=digest)
    def abort(self):
        if self.f: self.f.close()
        if self.tmp and os.path.lexists(self.tmp): os.unlink(self.tmp)
    def bad(self, why, tag="bad-archive"): raise ProtoError(tag, f"{self.at}: {why}")  # at: "entry N at byte B"
    def take(self, n, some=False):  # waits (yields) until n bytes (some: one) are buffered, then consumes up to n
        while len(self.buf) < (1 if some else n): yield
        b, self.buf = bytes(self.buf[:n]), self.buf[n:]
        self.off += len(b)
        return b
    def text(self, what):  # a u16 length of 1..4096, then so many bytes
        n = struct.unpack(">H", (yield from self.take(2)))[0]
        if not 1 <= n <= 4096: self.bad(f"{what} length {n}")
        return (yield from self.take(n))
    def untar(self):  # the extractor (9.7), resumed as DATA arrives: it reads like the format table, holds one header
        if (yield from self.take(4)) != b"RTA1": raise ProtoError("bad-archive", "byte 0: bad magic")
        dirs = []
        while (t := (yield from self.take(1))) != b"E":
            self.at = f"entry {self.res['entries'] + 1} at byte {self.off - 1}"
            if t not in (b"d", b"f", b"l"): self.bad(f"type byte 0x{t[0]:02x}")
            path = yield from self.text("path")
            mode, mtime = struct.unpack(">Iq", (yield from self.take(12)))
            size = struct.unpack(">Q", (yield from self.take(8)))[0] if t == b"f" else 0
            target = (yield from self.text("target")) if t == b"l" else b""
            if b"\0" in target: self.bad("NUL in the link target")
            if b"\0" in path or {b"", b".", b".."} & set(path.split(b"/")): self.bad(f"bad path {path!r}")  # /a too
            if mode > 0o7777: self.bad(f"mode {mode:o}")
            rel = os.fsdecode(path)
            parent = os.path.realpath(os.path.dirname(os.path.join(self.path, rel)))  # `..`, earlier symlinks (9.6)
            if not inside(parent, self.path): self.bad(f"{rel!r} lands outside the tree", "path-outside-workdir")
            os.makedirs(parent, exist_ok=True)
            full, ns = os.path.join(parent, os.path.basename(rel)), mtime * 10**6
            if t != b"f" and os.path.lexists(full) and (t == b"l" or os.path.islink(full) or not os.path.isdir(full)):
                rm_tree(full)  # an existing entry is replaced, except a directory by a directory
            if t == b"d":
                os.makedirs(full, 0o700, exist_ok=True)  # writable while filled, whatever its final mode
                dirs.append((full, mode, ns))
            elif t == b"l":  # the text is not confined (following it is)
                os.symlink(os.fsdecode(target), full)
                os.utime(full, ns=(ns, ns), follow_symlinks=False)
            else:  # like write: a temporary file, renamed when complete
                self.new_temp(parent)
                while size:
                    chunk = yield from self.take(min(size, 1 << 20), some=True)
                    self.f.write(chunk)
                    size, self.res["bytes"] = size - len(chunk), self.res["bytes"] + len(chunk)
                self.place(full, mode, mtime, False)
            self.res["entries"] += 1
        for full, mode, ns in reversed(dirs):  # modes last, so that read-only directories could be filled
            os.chmod(full, mode)
            os.utime(full, ns=(ns, ns))

# ---- the session (7, 8, 9, 10, 11) ----
class Session:  # one authenticated connection: a poll loop over the socket and the children's pipes
    def __init__(self, agent, sock, framer, hello, welcome):
        self.agent, self.sock, self.framer, self.work = agent, sock, framer, agent.work
        caps = dict(hello.get("capabilities") or {}, type="hello")
        self.peer_frame = fld(caps, "max_frame", int, 65536, 65536, 1048576)
        self.peer_window = fld(caps, "window", int, 65536, 65536, MAX_CREDIT)
        self.keepalive = fld(welcome, "keepalive_s", int, 15, 1, 3600)
        self.dead_after = fld(welcome, "dead_after_s", int, 3 * self.keepalive, self.keepalive + 1, 10800)
        self.out, self.chans, self.z = bytearray(), {}, zlib.compressobj(1, zlib.DEFLATED, -15)  # deflate: a MUST
        self.seq_out = self.seq_in = self.acked = 0  # the last seq sent, received, acknowledged
        self.last_rx = self.last_tx = time.monotonic()
        sock.setblocking(False)
    def send(self, typ, chan, payload, flags=0, stream=0):
        sequenced = typ in (CONTROL, DATA, WINDOW)  # numbered from 1 (7.1); ACK, PING, PONG carry 0
        self.seq_out += sequenced
        self.out += frame(typ, chan, payload, self.seq_out if sequenced else 0, flags, stream)
        self.last_tx = time.monotonic()
    def control(self, chan, msg):
        DEBUG and log(f"-> {chan}", msg)
        self.send(CONTROL, chan, json.dumps(msg, ensure_ascii=False).encode(errors="replace"))  # names in messages
    def send_data(self, ch, stream, data, eos=False):  # DATA within credit, deflated when that pays (10.2)
        assert len(data) <= ch.tx
        ch.tx, flags, payload = ch.tx - len(data), EOS if eos else 0, data
        if len(data) > 64:  # each frame ends with a full flush: any can go raw, and one compressor serves all streams
            z = self.z.compress(data) + self.z.flush(zlib.Z_FULL_FLUSH)
            if len(z) < len(data): flags, payload = flags | DEFLATE, z
        self.send(DATA, ch.id, payload, flags, stream)
    def grant(self, ch, n):  # credit back for consumed bytes, batched at half the window (11); none after our close
        ch.used += n
        if ch.used >= CAPS["window"] // 2 and not ch.closed:
            self.send(WINDOW, ch.id, struct.pack(">I", ch.used))
            ch.rx, ch.used = ch.rx + ch.used, 0
    def close_chan(self, ch):
        if not ch.closed: self.control(ch.id, {"type": "close"})
        ch.closed = True
    def fail(self, ch, tag, message):  # a channel error (9.4): error, then close; other channels go on
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
    def on_socket(self):
        while True:
            try: d = self.sock.recv(262144)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError): return
            self.last_rx = time.monotonic()
            self.framer.feed(d)
    def on_frame(self, length, typ, flags, stream, _, chan, seq, payload):
        if typ == ACK:  # we keep no replay buffer (no resume), so an ACK is only checked
            n = struct.unpack(">Q", payload)[0]
            return need(n <= self.seq_out, "bad-sequence", f"ACK of {n}, only {self.seq_out} sent", True)
        if typ == PING: return self.send(PONG, 0, payload)
        if typ == PONG: return
        DEBUG and typ == CONTROL and log(f"<- {chan}", payload.decode(errors="replace")[:300])
        if typ == CONTROL and not chan:  # the master sends only error (unsequenced too, 7.1) or goodbye here
            t = parse_msg(payload, True)["type"]
            if t in ("error", "goodbye"): raise ConnectionError(f"master {t}: {payload.decode(errors='replace')}")
            raise ProtoError("bad-message" if t in ("hello", "welcome", "challenge") else "unknown-message", t, True)
        need(0 < seq <= self.seq_in + 1, "bad-sequence", f"seq {seq} after {self.seq_in}", True)
        if seq <= self.seq_in: return  # a duplicate from a replay: dropped
        self.seq_in = seq
        ch = self.chans.get(chan)
        if typ == CONTROL: return self.guard(ch, self.on_control, chan, ch, payload)
        need(ch is not None, "bad-channel", f"DATA or WINDOW for channel {chan}, which is not open", True)
        if ch.closed: return  # in flight when we closed: dropped, credit unchecked (9.3)
        if typ == DATA: return self.guard(ch, self.on_data, ch, flags, stream, payload)
        inc = struct.unpack(">I", payload)[0]
        need(1 <= inc and ch.tx + inc <= MAX_CREDIT, "flow-control", f"WINDOW of {inc} on channel {chan}", True)
        ch.tx += inc
    def on_data(self, ch, flags, stream, payload):
        codec, eos, data = flags & 3, bool(flags & EOS), payload
        need(stream in ch.accept, "bad-channel", f"DATA on stream {stream}: not one this channel takes, or ended")
        if codec:  # only deflate can have been negotiated
            need(codec == DEFLATE, "codec-error", f"codec {codec} not negotiated", True)
            ch.dec = ch.dec or zlib.decompressobj(-15)
            try: data = ch.dec.decompress(payload, ch.rx + 1)  # stop just past the credit: a bomb is caught (11)
            except zlib.error as e: raise ProtoError("codec-error", f"channel {ch.id} stream {stream}: {e}", True)
            need(not ch.dec.unused_data, "codec-error", "deflate data after a final block", True)
        need(len(data) <= ch.rx, "flow-control", f"DATA beyond credit on channel {ch.id}", True)
        ch.rx, ch.accept = ch.rx - len(data), () if eos else ch.accept
        ch.on_data(stream, data, eos)
    def on_control(self, cid, ch, payload):  # a malformed message ends its channel; for a free id, the connection
        m = parse_msg(payload, ch is None)  # (9.4 allows that for a malformed open)
        t = m["type"]
        if t == "open":
            need(ch is None and cid % 2, "bad-channel", f"open of channel {cid}: in use or not a master's id", True)
            need(len(self.chans) < CAPS["max_channels"], "limit-exceeded", "more channels than max_channels", True)
            ch = self.chans[cid] = {"exec": Exec, "fs": Fs}.get(str(m.get("kind")), Chan)(self, cid)
            return self.guard(ch, ch.start, m)
        need(ch is not None, "bad-channel", f"{t} for channel {cid}, which is not open", True)
        if t in ("close", "error"):  # the master abandons, fails, or answers our close (9.3)
            if not ch.closed: ch.abort()
            self.close_chan(ch)
            if t == "close": del self.chans[cid]
        elif ch.closed or t == "resize": pass  # sent before our close reached the master; we have no terminal
        elif t == "signal" and isinstance(ch, Exec): ch.signal(m)
        else: raise ProtoError("bad-channel" if t in ("signal", "opened", "result") else "unknown-message", f"{t} here")
    def resolve(self, p, follow, what="path"):  # 9.6: `..` and symlinks resolved, the last component if following
        need(isinstance(p, str) and p and "\0" not in p and len(os.fsencode(p)) <= 4096, "bad-message",
             f"open.{what}: must be a path of 1..4096 bytes without NUL")
        full = os.path.join(self.work, p)
        head, tail = os.path.split(full.rstrip("/") or "/")
        real = os.path.realpath(full) if follow or tail in (".", "..") else os.path.join(os.path.realpath(head), tail)
        need(inside(real, self.work), "path-outside-workdir", f"{p}: outside the work directory")
        return real
    def run(self):
        try:
            while not self.agent.stopping:
                while self.framer.ready: self.on_frame(*self.framer.ready.pop(0))
                if self.acked < self.seq_in:  # what arrived is handled: ACKed at once, so well within 1 s (7.2)
                    self.send(ACK, 0, struct.pack(">Q", self.seq_in))
                    self.acked = self.seq_in
                now = time.monotonic()
                need(now - self.last_rx <= self.dead_after, "keepalive-timeout", f"silent for {self.dead_after}s", True)
                if now - self.last_tx >= self.keepalive: self.send(PING, 0, os.urandom(8))
                waits = {self.agent.wake_r: (select.POLLIN, self.agent.reap_zombies)}  # fd -> (poll events, callback)
                for ch in list(self.chans.values()): self.guard(ch, ch.pump, waits)  # what each channel can take now
                while self.out:  # what the socket takes now
                    try: n = self.sock.send(self.out[:65536])
                    except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError): break
                    del self.out[:n]
                waits[self.sock.fileno()] = (select.POLLIN | (select.POLLOUT if self.out else 0), self.on_socket)
                poller = select.poll()
                for fd, (ev, _) in waits.items(): poller.register(fd, ev)
                for fd, _ in poller.poll(1000): waits[fd][1]()
            self.control(0, {"type": "goodbye", "reason": "the agent is stopping"})
        except ProtoError as e:  # a connection error: say so on channel 0, and close (12)
            log(f"connection error {e.tag}: {e}")
            self.control(0, {"type": "error", "tag": e.tag, "message": str(e)})
        finally:
            for ch in self.chans.values(): ch.abort()  # no resume: the session's work ends with it (7.3)
            with contextlib.suppress(OSError):  # the goodbye or the error; this fails at once if the master is gone
                self.sock.settimeout(2)
                self.sock.sendall(self.out)
            self.sock.close()

# ---- the agent process ----
class Agent:
    def __init__(self, cfg_dir, plaintext):
        self.plaintext = plaintext
        with open(os.path.join(cfg_dir, "agent.json")) as f: self.cfg = json.load(f)
        if self.cfg.get("plaintext") and not plaintext:
            sys.exit("remsh-agent: this agent was enrolled with a plaintext master: add --insecure-plaintext")
        self.work, self.zombies, self.stopping = os.path.realpath(self.cfg["work_dir"]), [], False
        self.wake_r, wake_w = os.pipe()
        for fd in (self.wake_r, wake_w): os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_w)  # a signal wakes the poll: SIGCHLD ends the wait at once
        signal.signal(signal.SIGCHLD, lambda *a: None)
        for s in (signal.SIGTERM, signal.SIGINT): signal.signal(s, lambda *a: setattr(self, "stopping", True))
    def reap_zombies(self):  # the processes of aborted channels (Exec.abort), once they are gone
        with contextlib.suppress(BlockingIOError): os.read(self.wake_r, 4096)
        self.zombies = [p for p in self.zombies if p.poll() is None]
    def run(self):
        delay = 1.0
        while not self.stopping:
            try:
                sock, framer, peer, welcome = handshake(self.cfg, self.plaintext, self.work)
                log(f"connected to {self.cfg['master']} as {self.cfg['name']}, session {welcome.get('session')}")
                delay = 1.0
                Session(self, sock, framer, peer, welcome).run()
            except Exception as e:  # a lost connection, or a bug: neither may kill the agent
                log("connection lost:", e if isinstance(e, (OSError, ProtoError)) else traceback.format_exc())
                if isinstance(e, ConnectionError) and "auth-failed" in str(e): sys.exit(1)  # revoked: no use retrying
            end, delay = time.monotonic() + delay * random.uniform(0.5, 1.0), min(delay * 2, 30.0)  # backoff (7.3)
            while not self.stopping and time.monotonic() < end: time.sleep(0.1); self.reap_zombies()
        log("stopped")

def save_cfg(cfg_dir, cfg):  # agent.json holds the secret: mode 0600 from creation on, replaced atomically
    os.makedirs(cfg_dir, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cfg_dir)  # a new file of mode 0600
    with open(fd, "w") as f: json.dump(cfg, f, indent=1)
    os.replace(tmp, os.path.join(cfg_dir, "agent.json"))
def enroll(a):  # 6.4: trade the token for a name and a secret, over the pinned connection
    try:  # remsh1_ + base64url(JSON {"m": HOST:PORT, "f": fingerprint, "s": secret, "p": plaintext})
        tok = json.loads(base64.urlsafe_b64decode(a.token.split("_", 1)[1] + "=="))  # extra padding is ignored
        cfg, secret = {"master": tok["m"], "fingerprint": tok.get("f") or "", "plaintext": bool(tok.get("p"))}, tok["s"]
    except (IndexError, ValueError, KeyError, TypeError): sys.exit("remsh-agent: not an enrollment token (remsh1_...)")
    if cfg["plaintext"] != a.insecure_plaintext:
        sys.exit("remsh-agent: the token is for a plaintext master: add --insecure-plaintext" if cfg["plaintext"]
                 else "remsh-agent: --insecure-plaintext given, but the token is for a TLS master")
    name, work = a.name or socket.gethostname(), os.path.realpath(a.work_dir or os.path.join(a.config_dir, "work"))
    os.makedirs(work, exist_ok=True)
    try: sock, _, _, got = handshake(dict(cfg, name=name), cfg["plaintext"], work, secret)
    except (OSError, ProtoError) as e: sys.exit(f"remsh-agent: enrollment failed: {e}")
    sock.close()
    if not isinstance(got.get("secret"), str): sys.exit("remsh-agent: enrollment failed: the master sent no secret")
    name = got.get("agent") or name
    save_cfg(a.config_dir, dict(cfg, name=name, secret=got["secret"], work_dir=work))
    print(f"enrolled as {name}; start it with: {sys.argv[0]} run --config-dir {a.config_dir}")
def main():
    ap = argparse.ArgumentParser(description="a remsh agent in Python (docs/protocol.md v1)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("enroll", help="trade an enrollment token for this agent's credentials")
    e.add_argument("token")
    for p in (e, sub.add_parser("run", help="connect to the master and run what it asks, until SIGTERM")):
        p.add_argument("--config-dir", required=True)
        p.add_argument("--insecure-plaintext", action="store_true", help="no TLS (loopback tests only)")
    e.add_argument("--name", help="the agent's name (default: the host name)")
    e.add_argument("--work-dir", help="where commands run, the root of every path (default: CONFIG_DIR/work)")
    a = ap.parse_args()
    enroll(a) if a.cmd == "enroll" else Agent(a.config_dir, a.insecure_plaintext).run()

if __name__ == "__main__": main()
