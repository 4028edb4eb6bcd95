#!/usr/bin/env python3
"""Writes the remsh protocol v1 test vectors (tests/vectors/*.json).

An independent encoder written from docs/protocol.md alone (Python standard library plus
the zstd command for the one zstd vector), so the C++ library and these files check each
other. Run it again after a wire change and commit its output with the spec:

    python3 tests/vectors/generate.py tests/vectors

Each file lists "valid" cases (bytes as hex with their decoded meaning) and "invalid" ones
(bytes as hex with the error tag a receiver must produce).
"""
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

TYPES = {"control": 1, "data": 2, "window": 3, "ack": 4, "ping": 5, "pong": 6}
CODEC_BITS = {"none": 0, "deflate": 1, "zstd": 2}
EOS = 0x04


def header(length, ftype, flags=0, stream=0, channel=0, seq=0, reserved=0):
    return struct.pack(">IBBBBIQ", length, ftype, flags, stream, reserved, channel, seq)


def frame(ftype, payload=b"", flags=0, stream=0, channel=0, seq=0):
    return header(len(payload), TYPES[ftype], flags, stream, channel, seq) + payload


def deflate_sync(chunks, level=1):
    """Raw deflate, Z_SYNC_FLUSH after each chunk: one frame payload per chunk."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return [c.compress(x) + c.flush(zlib.Z_SYNC_FLUSH) for x in chunks]


def zstd_frame(data):
    return subprocess.run(["zstd", "-q", "-1", "-c", "--no-check"], input=data,
                          capture_output=True, check=True).stdout


def valid_frame(name, ftype, payload=b"", flags=0, stream=0, channel=0, seq=0, note=""):
    raw = frame(ftype, payload, flags, stream, channel, seq)
    case = {"name": name, "hex": raw.hex(),
            "header": {"length": len(payload), "type": ftype, "flags": flags,
                       "stream": stream, "channel": channel, "seq": seq},
            "payload_hex": payload.hex()}
    if note:
        case["note"] = note
    return case


def frames_file():
    hello = json.dumps({"type": "hello", "version": 1, "role": "agent",
                        "software": "vectors/1"}, separators=(",", ":")).encode()
    valid = [
        valid_frame("control on channel 0, unsequenced (handshake)", "control", hello),
        valid_frame("control on channel 3, seq 7", "control", b'{"type":"close"}',
                    channel=3, seq=7),
        valid_frame("data: stdout, raw", "data", b"hello\n", stream=1, channel=1, seq=8),
        valid_frame("data: stderr, raw, end-of-stream", "data", b"bye\n", flags=EOS,
                    stream=2, channel=1, seq=9),
        valid_frame("data: empty end-of-stream", "data", b"", flags=EOS, stream=1,
                    channel=1, seq=10),
        valid_frame("data: deflate flag", "data", deflate_sync([b"x" * 100])[0],
                    flags=1, stream=1, channel=5, seq=11),
        valid_frame("data: zstd flag + end-of-stream on named log 16", "data",
                    zstd_frame(b"log line\n"), flags=2 | EOS, stream=16, channel=5, seq=12),
        valid_frame("window: +65536 on channel 1", "window", struct.pack(">I", 65536),
                    channel=1, seq=13),
        valid_frame("ack of 13", "ack", struct.pack(">Q", 13)),
        valid_frame("ping", "ping", struct.pack(">Q", 0x0102030405060708)),
        valid_frame("pong", "pong", struct.pack(">Q", 0x0102030405060708)),
    ]
    invalid = []

    def bad(name, raw, error, max_frame=262144):
        invalid.append({"name": name, "hex": raw.hex(), "error": error, "max_frame": max_frame})

    bad("unknown frame type 0", header(0, 0), "bad-frame")
    bad("unknown frame type 7", header(8, 7) + b"\0" * 8, "bad-frame")
    bad("reserved byte set", header(8, 4, reserved=1) + b"\0" * 8, "bad-frame")
    bad("flags on a control frame", header(2, 1, flags=1) + b"{}", "bad-frame")
    bad("stream on a window frame", header(4, 3, stream=1, channel=1, seq=1) + b"\0\0\0\1",
        "bad-frame")
    bad("unknown data flag bit 3", header(1, 2, flags=8, stream=1, channel=1, seq=1) + b"x",
        "bad-frame")
    bad("reserved codec 3", header(1, 2, flags=3, stream=1, channel=1, seq=1) + b"x",
        "bad-frame")
    bad("data on channel 0", header(1, 2, stream=1, channel=0, seq=1) + b"x", "bad-frame")
    bad("empty data without end-of-stream", header(0, 2, stream=1, channel=1, seq=1),
        "bad-frame")
    bad("empty control frame", header(0, 1), "bad-frame")
    bad("window payload of 3 bytes", header(3, 3, channel=1, seq=1) + b"\0\0\1", "bad-frame")
    bad("window on channel 0", header(4, 3, channel=0, seq=1) + b"\0\0\0\1", "bad-frame")
    bad("ack on channel 1", header(8, 4, channel=1) + b"\0" * 8, "bad-frame")
    bad("ping with a seq", header(8, 5, seq=1) + b"\0" * 8, "bad-frame")
    bad("pong payload of 9 bytes", header(9, 6) + b"\0" * 9, "bad-frame")
    bad("data larger than max_frame (header alone is enough)",
        header(65537, 2, stream=1, channel=1, seq=1), "frame-too-large", 65536)
    bad("data length 0xffffffff", header(0xFFFFFFFF, 2, stream=1, channel=1, seq=1),
        "frame-too-large")
    bad("control larger than 65536", header(65537, 1), "frame-too-large")

    stream = b"".join(bytes.fromhex(c["hex"]) for c in valid[:5])
    return {
        "description": "Frames (docs/protocol.md, Framing). Decode each 'hex' with the given "
                       "max_frame (default 262144): valid ones give 'header' and 'payload_hex'; "
                       "invalid ones must fail with 'error' once the 20-byte header is read.",
        "valid": valid,
        "invalid": invalid,
        "concatenated": {"name": "the first five valid frames back to back",
                         "hex": stream.hex(), "frames": 5},
    }


def messages_file():
    def j(obj):
        return json.dumps(obj, separators=(",", ":"))

    caps = {"codecs": ["zstd", "deflate"], "resume": True, "pty": True, "max_channels": 64,
            "max_frame": 262144, "window": 4194304, "replay_bytes": 16777216,
            "keepalive_s": 15}
    valid = [
        ("hello from an agent", {"type": "hello", "version": 1, "role": "agent",
                                 "software": "remsh-agent/0.1.0", "capabilities": caps,
                                 "agent": "builder-1", "nonce": "ab" * 32}),
        ("hello resuming a session", {"type": "hello", "version": 1, "role": "agent",
                                      "software": "x/1", "capabilities": caps, "agent": "b",
                                      "nonce": "01" * 32,
                                      "resume": {"session": "s-1", "received": 41}}),
        ("hello with an unknown codec and unknown fields (ignored)",
         {"type": "hello", "version": 2, "role": "master", "software": "m/9",
          "capabilities": dict(caps, codecs=["brotli", "deflate"]), "future": {"x": 1}}),
        ("challenge", {"type": "challenge", "nonce": "cd" * 32}),
        ("enroll", {"type": "enroll", "token": "tok-secret", "name": "builder-1"}),
        ("enrolled", {"type": "enrolled", "agent": "builder-1", "secret": "5a" * 32}),
        ("auth", {"type": "auth", "proof": "0f" * 32}),
        ("welcome", {"type": "welcome", "session": "s-1", "resumed": False, "received": 0,
                     "codecs": ["zstd", "deflate"], "keepalive_s": 15, "dead_after_s": 45}),
        ("hello resuming, able to be re-attached (7.4)",
         {"type": "hello", "version": 1, "role": "agent", "software": "x/1",
          "capabilities": dict(caps, reattach=True), "agent": "b", "nonce": "02" * 32,
          "resume": {"session": "s-1", "received": 41, "sent": 812}}),
        ("welcome from a master that restarted (7.4)",
         {"type": "welcome", "session": "s-4f2a", "resumed": True, "restarted": True,
          "received": 812, "channels": [7, 9], "codecs": ["deflate", "zstd"],
          "keepalive_s": 15, "dead_after_s": 45}),
        ("connection error", {"type": "error", "tag": "auth-failed", "message": "bad proof"}),
        ("error with a tag from the future", {"type": "error", "tag": "tea-pot", "message": ""}),
        ("goodbye", {"type": "goodbye", "reason": "master shutting down"}),
        ("open exec argv", {"type": "open", "kind": "exec", "argv": ["make", "-j2"],
                            "cwd": "build", "env": {"CC": "gcc", "MAKEFLAGS": None},
                            "stdin": True, "timeout_s": 1800, "no_output_timeout_s": 300}),
        ("open exec shell line with pty", {"type": "open", "kind": "exec",
                                           "shell": "echo hi && exit 3",
                                           "pty": {"cols": 120, "rows": 40, "term": "xterm"}}),
        ("open exec interactive login shell", {"type": "open", "kind": "exec", "interactive": True,
                                               "stdin": True, "pty": {"cols": 80, "rows": 24}}),
        ("opened", {"type": "opened", "pid": 4242}),
        ("signal", {"type": "signal", "signal": "INT", "group": True}),
        ("resize", {"type": "resize", "cols": 100, "rows": 30}),
        ("result: exited", {"type": "result", "reason": "exited", "exit_code": 3,
                            "elapsed_ms": 12, "cpu_user_ms": 1, "cpu_system_ms": 2,
                            "max_rss_kb": 3000}),
        ("result: signaled", {"type": "result", "reason": "signaled", "signal": "KILL"}),
        ("close", {"type": "close"}),
        ("open fs write", {"type": "open", "kind": "fs", "op": "write", "path": "src/main.c",
                           "mode": 420, "mtime_ms": 1764000000000, "size": 1234,
                           "sha256": "ab" * 32}),
        ("open fs remove several", {"type": "open", "kind": "fs", "op": "remove",
                                    "paths": ["build", "a/b.o"]}),
        ("open fs stat of a name that is not UTF-8", {"type": "open", "kind": "fs", "op": "stat",
                                                      "path_b64": "Y2Fm6Q"}),
        ("open fs remove several, one not UTF-8", {"type": "open", "kind": "fs", "op": "remove",
                                                   "paths_b64": ["YnVpbGQ", "Y2Fm6Q"]}),
        ("open fs rename to a name that is not UTF-8", {"type": "open", "kind": "fs",
                                                        "op": "rename", "path": "a",
                                                        "to_b64": "Y2Fm6Q"}),
        ("open fs list with glob", {"type": "open", "kind": "fs", "op": "list", "path": ".",
                                    "recursive": True, "glob": "*.c"}),
        ("status: draining", {"type": "status", "draining": True,
                              "reason": "the owner asked the agent to leave"}),
        ("open notice", {"type": "open", "kind": "notice", "id": "m-12",
                         "text": "please update to 0.2 this week", "from": "admin"}),
        ("open notice: renamed", {"type": "open", "kind": "notice", "id": "m-13", "text": "",
                                  "rename": "builder-7"}),
        ("result of fs stat", {"type": "result", "exists": True,
                               "entry": {"type": "file", "size": 3, "mode": 420,
                                         "mtime_ms": 0}}),
    ]
    invalid = [
        ("not JSON", b"hello", "bad-message"),
        ("JSON array, not object", b"[1,2]", "bad-message"),
        ("no type", b'{"kind":"exec"}', "bad-message"),
        ("type is a number", b'{"type":5}', "bad-message"),
        ("invalid UTF-8", b'{"type":"close","x":"\xff"}', "bad-message"),
        ("nesting deeper than 16", b'{"type":"close","x":' + b"[" * 20 + b"]" * 20 + b"}",
         "bad-message"),
        ("number beyond the range of a double", b'{"type":"close","x":1e999}', "bad-message"),
        ("unknown type", j({"type": "teleport"}).encode(), "unknown-message"),
        ("open of an unknown kind", j({"type": "open", "kind": "mine-bitcoin"}).encode(),
         "unsupported"),
        ("exec with argv and shell", j({"type": "open", "kind": "exec", "argv": ["a"],
                                         "shell": "b"}).encode(), "bad-message"),
        ("exec with neither argv nor shell", j({"type": "open", "kind": "exec"}).encode(),
         "bad-message"),
        ("exec with an empty argv and a shell", j({"type": "open", "kind": "exec", "argv": [],
                                                  "shell": "ls"}).encode(), "bad-message"),
        ("exec argv with a NUL byte", j({"type": "open", "kind": "exec",
                                         "argv": ["a\u0000b"]}).encode(), "bad-message"),
        ("hello with agent but no nonce", j({"type": "hello", "version": 1, "role": "agent",
                                              "software": "x", "capabilities": caps,
                                              "agent": "a"}).encode(), "bad-message"),
        ("exec argv not strings", j({"type": "open", "kind": "exec", "argv": [1]}).encode(),
         "bad-message"),
        ("exec env name with '='", j({"type": "open", "kind": "exec", "argv": ["a"],
                                       "env": {"A=B": "c"}}).encode(), "bad-message"),
        ("exec negative timeout", j({"type": "open", "kind": "exec", "argv": ["a"],
                                      "timeout_s": -1}).encode(), "bad-message"),
        ("hello without capabilities", j({"type": "hello", "version": 1, "role": "agent",
                                           "software": "x"}).encode(), "bad-message"),
        ("hello without deflate", j({"type": "hello", "version": 1, "role": "agent",
                                      "software": "x",
                                      "capabilities": dict(caps, codecs=["zstd"])}).encode(),
         "bad-message"),
        ("hello max_frame below 65536", j({"type": "hello", "version": 1, "role": "agent",
                                            "software": "x",
                                            "capabilities": dict(caps, max_frame=1024)}).encode(),
         "bad-message"),
        ("hello role unknown", j({"type": "hello", "version": 1, "role": "boss",
                                   "software": "x", "capabilities": caps}).encode(),
         "bad-message"),
        ("challenge nonce too short", j({"type": "challenge", "nonce": "abcd"}).encode(),
         "bad-message"),
        ("signal unknown", j({"type": "signal", "signal": "STOP"}).encode(), "bad-message"),
        ("resize cols 0", j({"type": "resize", "cols": 0, "rows": 5}).encode(), "bad-message"),
        ("result exited without exit_code", j({"type": "result", "reason": "exited"}).encode(),
         "bad-message"),
        ("exec with neither argv nor shell and not interactive",
         j({"type": "open", "kind": "exec", "interactive": False}).encode(), "bad-message"),
        ("interactive exec with an empty argv", j({"type": "open", "kind": "exec", "interactive": True,
                                                    "argv": []}).encode(), "bad-message"),
        ("notice without id", j({"type": "open", "kind": "notice", "text": "hi"}).encode(),
         "bad-message"),
        ("notice renaming to nothing", j({"type": "open", "kind": "notice", "id": "m-1",
                                          "rename": ""}).encode(), "bad-message"),
        ("status with draining not a bool", j({"type": "status", "draining": 1}).encode(),
         "bad-message"),
        ("fs unknown op", j({"type": "open", "kind": "fs", "op": "explode",
                              "path": "a"}).encode(), "unsupported"),
        ("fs without path", j({"type": "open", "kind": "fs", "op": "stat"}).encode(),
         "bad-message"),
        ("fs path given as text and in base64", j({"type": "open", "kind": "fs", "op": "stat",
                                                   "path": "a", "path_b64": "YQ"}).encode(),
         "bad-message"),
        ("fs path_b64 padded", j({"type": "open", "kind": "fs", "op": "stat",
                                  "path_b64": "Y2Fm6Q=="}).encode(), "bad-message"),
        ("fs path_b64 of a lone 6-bit group", j({"type": "open", "kind": "fs", "op": "stat",
                                                 "path_b64": "Y2Fm6"}).encode(), "bad-message"),
        ("fs path_b64 with bits left over", j({"type": "open", "kind": "fs", "op": "stat",
                                               "path_b64": "Y2Fm6R"}).encode(), "bad-message"),
        ("fs path_b64 in the standard alphabet", j({"type": "open", "kind": "fs", "op": "stat",
                                                    "path_b64": "Y+Fm"}).encode(), "bad-message"),
        ("fs chmod without mode", j({"type": "open", "kind": "fs", "op": "chmod",
                                     "path": "a"}).encode(), "bad-message"),
        ("fs write sha256 not lowercase hex", j({"type": "open", "kind": "fs", "op": "write",
                                                 "path": "a", "sha256": "AB" * 32}).encode(),
         "bad-message"),
        ("fs rename without to", j({"type": "open", "kind": "fs", "op": "rename",
                                    "path": "a"}).encode(), "bad-message"),
        ("welcome restarted but not resumed",
         j({"type": "welcome", "session": "s", "resumed": False, "restarted": True,
            "channels": [], "codecs": ["deflate"], "keepalive_s": 15,
            "dead_after_s": 45}).encode(), "bad-message"),
        ("welcome restarted with channel id 0",
         j({"type": "welcome", "session": "s", "resumed": True, "restarted": True,
            "channels": [0], "codecs": ["deflate"], "keepalive_s": 15,
            "dead_after_s": 45}).encode(), "bad-message"),
        ("welcome dead_after not above keepalive",
         j({"type": "welcome", "session": "s", "codecs": ["deflate"], "keepalive_s": 15,
            "dead_after_s": 15}).encode(), "bad-message"),
    ]
    return {
        "description": "Control messages (docs/protocol.md, Control messages). Each 'hex' is "
                       "a CONTROL frame payload. Valid ones parse and validate as 'type'; "
                       "invalid ones must be refused with 'error'.",
        "valid": [{"name": n, "type": o["type"], "text": j(o), "hex": j(o).encode().hex()}
                  for n, o in valid],
        "invalid": [{"name": n, "hex": b.hex(), "error": e} for n, b, e in invalid],
    }


def streams_file():
    text = [b"[1/3] Building CXX object a.o\n" * 20, b"warning: unused variable 'x'\n" * 10,
            b"[3/3] Linking CXX executable remsh\n"]
    deflated = deflate_sync(text)
    valid = [
        {"name": "raw frames", "frames": [{"flags": 0, "payload_hex": t.hex()} for t in text],
         "decoded_hex": b"".join(text).hex()},
        {"name": "deflate, one sync-flushed frame per chunk, each decodable on arrival",
         "frames": [{"flags": 1, "payload_hex": d.hex(), "decoded_hex": t.hex()}
                    for d, t in zip(deflated, text)],
         "decoded_hex": b"".join(text).hex()},
        {"name": "deflate interleaved with a raw frame",
         "frames": [{"flags": 1, "payload_hex": deflated[0].hex()},
                    {"flags": 0, "payload_hex": b"RAW".hex()},
                    {"flags": 1, "payload_hex": deflated[1].hex()}],
         "decoded_hex": (text[0] + b"RAW" + text[1]).hex()},
        {"name": "deflate split mid-block across frames",
         "frames": [{"flags": 1, "payload_hex": deflated[0][:5].hex()},
                    {"flags": 1 | EOS, "payload_hex": deflated[0][5:].hex()}],
         "decoded_hex": text[0].hex()},
        {"name": "zstd frame then end-of-stream",
         "frames": [{"flags": 2, "payload_hex": zstd_frame(text[0]).hex()},
                    {"flags": EOS, "payload_hex": ""}],
         "decoded_hex": text[0].hex()},
    ]
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb_payload = bomb.compress(b"\0" * 1000000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    invalid = [
        {"name": "codec switches from deflate to zstd",
         "frames": [{"flags": 1, "payload_hex": deflated[0].hex()},
                    {"flags": 2, "payload_hex": zstd_frame(b"x").hex()}],
         "error": "codec-error"},
        {"name": "corrupt deflate", "frames": [{"flags": 1, "payload_hex": "ffffffff"}],
         "error": "codec-error"},
        {"name": "corrupt zstd", "frames": [{"flags": 2, "payload_hex": "28b52ffd00ffffff"}],
         "error": "codec-error"},
        {"name": "data after end-of-stream",
         "frames": [{"flags": EOS, "payload_hex": "41"}, {"flags": 0, "payload_hex": "42"}],
         "error": "bad-channel"},
        {"name": "deflate bomb: 1 MB of zeros with 65536 bytes of credit",
         "frames": [{"flags": 1, "payload_hex": bomb_payload.hex()}], "limit": 65536,
         "error": "flow-control"},
        {"name": "raw data beyond credit",
         "frames": [{"flags": 0, "payload_hex": "41" * 10}], "limit": 9,
         "error": "flow-control"},
    ]
    return {
        "description": "One stream's DATA frames (docs/protocol.md, Data streams). 'flags' is "
                       "the frame's flags byte (bits 0-1 codec, bit 2 end-of-stream). Decode "
                       "the frames in order with 'limit' bytes of credit (default unlimited): "
                       "valid ones give 'decoded_hex' (and each frame its own 'decoded_hex' "
                       "where given, right as it arrives); invalid ones fail with 'error'.",
        "valid": valid,
        "invalid": invalid,
    }


def sequence_file():
    return {
        "description": "Receiver verdicts for the seq field of sequenced frames in one "
                       "session (docs/protocol.md, Reliability): 'deliver', 'duplicate' "
                       "(drop silently) or an error tag, which ends the connection.",
        "cases": [
            {"name": "in order", "seqs": [1, 2, 3], "verdicts": ["deliver"] * 3},
            {"name": "replay overlap after resume", "seqs": [1, 2, 3, 2, 3, 4],
             "verdicts": ["deliver", "deliver", "deliver", "duplicate", "duplicate", "deliver"]},
            {"name": "gap", "seqs": [1, 3], "verdicts": ["deliver", "bad-sequence"]},
            {"name": "seq 0 on a sequenced frame", "seqs": [0], "verdicts": ["bad-sequence"]},
            {"name": "first frame must be 1", "seqs": [2], "verdicts": ["bad-sequence"]},
        ],
    }


def banner_file():
    return {
        "description": "The 8-byte greeting (docs/protocol.md, Greeting).",
        "valid": [{"name": "version 1", "hex": (b"remsh\0" + struct.pack(">H", 1)).hex(),
                   "version": 1},
                  {"name": "a future version 3", "hex": (b"remsh\0" + struct.pack(">H", 3)).hex(),
                   "version": 3}],
        "invalid": [{"name": "HTTP request", "hex": b"GET / HT".hex(), "error": "bad-banner"},
                    {"name": "version 0", "hex": (b"remsh\0\0\0").hex(), "error": "bad-banner"},
                    {"name": "TLS ClientHello", "hex": "160301020001fc03", "error": "bad-banner"}],
    }


def auth_file():
    import hashlib
    import hmac
    secret = bytes(range(32))
    agent = "builder-1"
    agent_nonce = "a1" * 32
    master_nonce = "b2" * 32
    client_key = hmac.new(secret, b"remsh client key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    message = f"remsh-auth-v1,{agent},{agent_nonce},{master_nonce}"
    signature = hmac.new(stored_key, message.encode(), hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    return {
        "description": "Agent authentication (docs/protocol.md 6.3) with every intermediate value.",
        "secret_hex": secret.hex(), "agent": agent, "agent_nonce": agent_nonce,
        "master_nonce": master_nonce, "client_key_hex": client_key.hex(),
        "stored_key_hex": stored_key.hex(), "auth_message": message,
        "signature_hex": signature.hex(), "proof_hex": proof.hex(),
    }


def tree_archive_file():
    """docs/protocol.md 9.7."""
    def entry(kind, path, mode, mtime, size=None, target=None):
        p = path.encode()
        out = kind + struct.pack(">H", len(p)) + p + struct.pack(">Iq", mode, mtime)
        if size is not None:
            out += struct.pack(">Q", size)
        if target is not None:
            t = target.encode()
            out += struct.pack(">H", len(t)) + t
        return out
    example = (b"RTA1" + entry(b"d", "a", 0o755, 1700000000000)
               + entry(b"f", "a/b", 0o644, -1, size=2) + b"hi"
               + entry(b"l", "a/c", 0o777, 0, target="b") + b"E")
    valid = [
        ("empty archive", b"RTA1E", []),
        ("directory file symlink", example,
         [{"type": "directory", "path": "a", "mode": 0o755, "mtime_ms": 1700000000000},
          {"type": "file", "path": "a/b", "mode": 0o644, "mtime_ms": -1, "size": 2,
           "content_hex": b"hi".hex()},
          {"type": "symlink", "path": "a/c", "mode": 0o777, "mtime_ms": 0, "target": "b"}]),
    ]
    invalid = [
        ("bad magic", b"RTA2E"),
        ("unknown entry type", b"RTA1x"),
        ("path with ..", b"RTA1" + entry(b"d", "a/../b", 0o755, 0) + b"E"),
        ("absolute path", b"RTA1" + entry(b"d", "/etc", 0o755, 0) + b"E"),
        ("empty component", b"RTA1" + entry(b"d", "a//b", 0o755, 0) + b"E"),
        ("mode above 07777", b"RTA1" + entry(b"d", "a", 0o10000, 0) + b"E"),
        ("truncated content", b"RTA1" + entry(b"f", "a", 0o644, 0, size=5) + b"hi"),
        ("no end marker", b"RTA1" + entry(b"d", "a", 0o755, 0)),
        ("bytes after the end", b"RTA1E" + b"d"),
    ]
    return {
        "description": "Tree archives (docs/protocol.md 9.7). Valid archives decode to "
                       "'entries'; invalid ones (whole stream given) must fail with "
                       "bad-archive.",
        "valid": [{"name": n, "hex": b.hex(), "entries": e} for n, b, e in valid],
        "invalid": [{"name": n, "hex": b.hex(), "error": "bad-archive"} for n, b in invalid],
    }


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
    for name, make in [("frames", frames_file), ("messages", messages_file),
                       ("streams", streams_file), ("sequence", sequence_file),
                       ("banner", banner_file), ("auth", auth_file),
                       ("tree_archive", tree_archive_file)]:
        (out / f"{name}.json").write_text(json.dumps(make(), indent=1) + "\n")
        print(f"wrote {out / (name + '.json')}")


if __name__ == "__main__":
    main()
