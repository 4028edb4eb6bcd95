"""A scripted master: the master side of docs/protocol.md written from the spec alone, in
standard-library Python, so that the suite can send an agent what a real master never
would (sections 12 and 13) and watch what it answers.

It serves TLS with a certificate it is given, enrols an agent itself (6.4: it makes the
token), authenticates it (6.3), and then lets a check drive the session frame by frame.
Only 127.0.0.1; every read has a deadline.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import subprocess
import time

CONTROL, DATA, WINDOW, ACK, PING, PONG = range(1, 7)
HDR = struct.Struct(">IBBBBIQ")  # length, type, flags, stream, reserved, channel, seq (4.1)
MAGIC = b"remsh\0"
EOS = 4


class Gone(AssertionError):
    """The agent closed the connection."""


def hello_caps(window=1 << 20):
    return {"codecs": ["deflate"], "resume": False, "pty": False, "max_channels": 64, "max_frame": 65536,
            "window": window, "replay_bytes": 1 << 20, "keepalive_s": 15}


class Peer:
    """One agent connection. Sequenced frames are numbered for the check unless it gives a seq;
    PINGs are answered; the agent's own numbering is checked on every frame (7.1)."""

    def __init__(self, sock, proc=None):
        self.sock, self.proc, self.buf = sock, proc, bytearray()
        self.seq_out = self.seq_in = 0
        self.established = False
        self.seen = []  # (type, channel, short text) of everything received, for failure messages
        self.granted = {}  # channel -> the sum of the WINDOW increments the agent sent
        self.auto_pong = True

    # ---- sending ----
    def send(self, typ, chan, payload=b"", seq=None, flags=0, stream=0, rsv=0, length=None):
        if seq is None:
            seq = 0
            if typ in (CONTROL, DATA, WINDOW) and self.established:
                self.seq_out += 1
                seq = self.seq_out
        header = HDR.pack(len(payload) if length is None else length, typ, flags, stream, rsv, chan, seq)
        try:
            self.sock.sendall(header + payload)
        except OSError:
            pass  # the agent may close before it read everything: what it answered decides

    def control(self, chan, msg, **kw):
        self.send(CONTROL, chan, msg if isinstance(msg, bytes) else json.dumps(msg).encode(), **kw)

    def window(self, chan, inc, **kw):
        self.send(WINDOW, chan, struct.pack(">I", inc), **kw)

    # ---- receiving ----
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 18)
        except (socket.timeout, ssl.SSLWantReadError):
            raise TimeoutError
        except (ConnectionError, ssl.SSLError):
            data = b""
        if not data:
            raise Gone("the agent closed the connection")
        self.buf += data

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv(self, timeout=10.0):
        """The next frame as (type, flags, stream, channel, seq, payload); PING is answered."""
        deadline = time.monotonic() + timeout
        while True:
            length, typ, flags, stream, rsv, chan, seq = HDR.unpack(self.read_exact(20, deadline))
            assert length <= 1 << 20 and rsv == 0, f"the agent sent a bad header: {length} bytes, reserved {rsv}"
            payload = self.read_exact(length, deadline)
            text = payload[:120].decode(errors="replace") if typ == CONTROL else f"{length} bytes"
            self.seen.append((typ, chan, seq, text))
            if typ in (CONTROL, DATA, WINDOW) and self.established:
                unsequenced_error = typ == CONTROL and chan == 0 and seq == 0 and json.loads(payload).get("type") == "error"
                assert unsequenced_error or seq == self.seq_in + 1, f"the agent sent seq {seq} after {self.seq_in} (7.1)"
                self.seq_in = seq or self.seq_in
            if typ == WINDOW:
                self.granted[chan] = self.granted.get(chan, 0) + struct.unpack(">I", payload)[0]
            if typ == PING and self.auto_pong:
                self.send(PONG, 0, payload)
                continue
            return typ, flags, stream, chan, seq, payload

    def history(self):
        return "; ".join(f"t{t} ch{c} s{s} {x}" for t, c, s, x in self.seen[-8:]) or "nothing"

    def expect(self, what, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        try:
            while True:
                f = self.recv(max(0.01, deadline - time.monotonic()))
                if pred(f):
                    return f
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s; received: {self.history()}") from None
        except Gone:
            raise AssertionError(f"the connection closed before {what}; received: {self.history()}") from None

    def expect_msg(self, chan, mtype, timeout=10.0):
        f = self.expect(f"{mtype} on channel {chan}", lambda f: f[0] == CONTROL and f[3] == chan
                        and json.loads(f[5]).get("type") in (mtype, "error"), timeout)
        m = json.loads(f[5])
        assert m["type"] == mtype, f"expected {mtype} on channel {chan}, got {m}"
        return m

    def conn_error(self, tag, timeout=10.0):
        """The agent answers with `error` `tag` on channel 0 and closes the connection (12)."""
        f = self.expect(f"an error {tag} on channel 0", lambda f: f[0] == CONTROL and f[3] == 0
                        and json.loads(f[5]).get("type") == "error", timeout)
        m = json.loads(f[5])
        assert m.get("tag") == tag, f"expected tag {tag}, got {m}"
        self.gone(5.0)
        return m

    def gone(self, timeout):
        """Waits for the agent to close; returns the frames it sent until then."""
        deadline, frames = time.monotonic() + timeout, []
        try:
            while True:
                frames.append(self.recv(max(0.01, deadline - time.monotonic())))
        except Gone:
            return frames
        except TimeoutError:
            raise AssertionError(f"the agent kept the connection open for {timeout} s") from None

    def chan_error(self, chan, tags, timeout=10.0):
        """The agent fails channel `chan` alone: `error` with one of `tags`, then `close` (9.4)."""
        tags = (tags,) if isinstance(tags, str) else tags
        f = self.expect(f"an error on channel {chan}", lambda f: f[0] == CONTROL and f[3] in (0, chan)
                        and json.loads(f[5]).get("type") == "error", timeout)
        m = json.loads(f[5])
        assert f[3] == chan, f"the agent ended the connection instead of channel {chan}: {m}"
        assert m.get("tag") in tags, f"expected tag {'/'.join(tags)} on channel {chan}, got {m}"
        self.expect_msg(chan, "close", timeout)
        self.control(chan, {"type": "close"})  # frees the id (9.3)
        return m

    def alive(self, timeout=10.0):
        """The connection still works: a PING is answered with its bytes (8)."""
        token = os.urandom(8)
        self.send(PING, 0, token)
        self.expect("the PONG", lambda f: f[0] == PONG and f[5] == token, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ScriptedMaster:
    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        with open(cert) as f:
            self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.address = f"127.0.0.1:{self.lsock.getsockname()[1]}"
        self.enrol_secret = os.urandom(16).hex()
        self.agents = {}  # name -> stored_key (6.3)
        self.sessions = 0
        self.greeting = MAGIC + struct.pack(">H", 1)
        self.keepalive_s, self.dead_after_s, self.window = 15, 45, 1 << 20

    def token(self):
        body = json.dumps({"m": self.address, "f": self.fingerprint, "s": self.enrol_secret}).encode()
        return "remsh1_" + base64.urlsafe_b64encode(body).decode().rstrip("=")

    def accept(self, proc=None, timeout=20.0, finish=True):
        """Accepts one connection and runs the handshake up to `welcome` (or the enrolment)."""
        deadline = time.monotonic() + timeout
        while True:
            self.lsock.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
            try:
                raw, _ = self.lsock.accept()
                break
            except socket.timeout:
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"the agent exited ({proc.returncode}) without connecting")
                if time.monotonic() >= deadline:
                    raise AssertionError(f"the agent did not connect within {timeout} s")
        raw.settimeout(max(0.1, deadline - time.monotonic()))
        sock = self.ctx.wrap_socket(raw, server_side=True)
        p = Peer(sock, proc)
        sock.sendall(self.greeting)
        greeting = p.read_exact(8, deadline)
        assert greeting[:6] == MAGIC and greeting[6:] != b"\0\0", f"bad greeting {greeting.hex()} (3)"
        if not finish:
            return p
        return self.handshake(p, deadline)

    def handshake(self, p, deadline):
        def msg(want):
            typ, _, _, chan, seq, payload = p.recv(max(0.01, deadline - time.monotonic()))
            m = json.loads(payload)
            assert (typ, chan, seq) == (CONTROL, 0, 0) and m.get("type") == want, f"expected {want} (6.1), got {m}"
            return m
        hello = p.hello = msg("hello")
        assert hello.get("role") == "agent" and hello.get("version") == 1, hello
        p.caps = hello["capabilities"]
        p.control(0, {"type": "hello", "version": 1, "role": "master", "software": "conformance-scripted-master",
                      "capabilities": hello_caps(self.window)})
        if "agent" not in hello:  # enrolment (6.4)
            m = msg("enroll")
            assert m.get("token") == self.enrol_secret, m
            secret = os.urandom(32)
            client_key = hmac.new(secret, b"remsh client key", hashlib.sha256).digest()
            self.agents[m["name"]] = hashlib.sha256(client_key).digest()
            p.control(0, {"type": "enrolled", "agent": m["name"], "secret": secret.hex()})
            p.close()
            return None
        nonce = os.urandom(32).hex()
        p.control(0, {"type": "challenge", "nonce": nonce})
        proof = bytes.fromhex(msg("auth")["proof"])
        stored = self.agents[hello["agent"]]
        message = f"remsh-auth-v1,{hello['agent']},{hello['nonce']},{nonce}".encode()
        signature = hmac.new(stored, message, hashlib.sha256).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        assert hmac.compare_digest(hashlib.sha256(client_key).digest(), stored), "the agent's proof is wrong (6.3)"
        self.sessions += 1
        p.control(0, {"type": "welcome", "session": f"s-conf-{self.sessions}", "resumed": False, "received": 0,
                      "codecs": ["deflate"], "keepalive_s": self.keepalive_s, "dead_after_s": self.dead_after_s})
        p.established = True
        return p

    def close(self):
        self.lsock.close()


class ScriptedCluster:
    """An agent enrolled with the scripted master; connect() starts it and returns the session."""

    def __init__(self, agent_cmd, tmp, cert, key):
        self.agent_cmd, self.tmp = agent_cmd, tmp
        self.master = ScriptedMaster(cert, key)
        self.cfg, self.work = os.path.join(tmp, "agent-a1"), os.path.join(tmp, "work-a1")
        os.makedirs(self.work, exist_ok=True)
        self.proc = self.peer = None

    def enroll(self):
        log = open(os.path.join(self.tmp, "agent-a1.log"), "ab")
        p = subprocess.Popen([*self.agent_cmd, "enroll", self.master.token(), "--config-dir", self.cfg,
                              "--name", "a1", "--work-dir", self.work], stdout=log, stderr=log)
        try:
            assert self.master.accept(p) is None
            assert p.wait(timeout=20) == 0, "enrolment failed"
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def connect(self, finish=True):
        self.disconnect()
        log = open(os.path.join(self.tmp, "agent-a1.log"), "ab")
        self.proc = subprocess.Popen([*self.agent_cmd, "run", "--config-dir", self.cfg], stdout=log, stderr=log)
        self.peer = self.master.accept(self.proc, finish=finish)
        return self.peer

    def disconnect(self):
        if self.peer:
            self.peer.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = self.peer = None

    def close(self):
        self.disconnect()
        self.master.close()
