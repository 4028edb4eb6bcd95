#!/usr/bin/env python3
"""Builds the fuzz seed corpus from the test vectors (run after generate.py):

    python3 tests/fuzz/make_corpus.py
"""
import hashlib
import json
import struct
from pathlib import Path

here = Path(__file__).parent
vectors = here.parent / "vectors"


def put(target, data):
    d = here / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


frames = json.loads((vectors / "frames.json").read_text())
for c in frames["valid"] + frames["invalid"]:
    put("fuzz_frame_decoder", b"\x07" + bytes.fromhex(c["hex"]))
put("fuzz_frame_decoder", b"\x00" + bytes.fromhex(frames["concatenated"]["hex"]))

messages = json.loads((vectors / "messages.json").read_text())
for c in messages["valid"] + messages["invalid"]:
    put("fuzz_control_message", bytes.fromhex(c["hex"]))

streams = json.loads((vectors / "streams.json").read_text())
for c in streams["valid"] + streams["invalid"]:
    blob = b""
    for f in c["frames"]:
        p = bytes.fromhex(f["payload_hex"])[:65535]
        blob += struct.pack(">BH", f["flags"], len(p)) + p
    put("fuzz_stream_decoder", blob)

banner = json.loads((vectors / "banner.json").read_text())
for c in banner["valid"] + banner["invalid"]:
    put("fuzz_banner", bytes.fromhex(c["hex"]))


# What an agent sends in an established session (fuzz_master_session): the first byte picks
# a fresh session (even) or one taken up after a master restart (odd) and the read size.
def frame(typ, channel, seq, payload=b"", flags=0, stream=0):
    return struct.pack(">IBBBBIQ", len(payload), typ, flags, stream, 0, channel, seq) + payload


def agent_traffic(first_seq, channel):
    seq = first_seq
    out = b""
    for typ, payload, flags, stream in [
            (1, b'{"type":"opened"}', 0, 0), (2, b"hello\n", 0, 1), (2, b"oops\n", 0, 2),
            (3, struct.pack(">I", 4096), 0, 0), (2, b"", 4, 1),
            (1, b'{"type":"result","reason":"exited","exit_code":3}', 0, 0), (1, b'{"type":"close"}', 0, 0)]:
        out += frame(typ, channel, seq, payload, flags, stream)
        seq += 1
    out += frame(5, 0, 0, b"12345678") + frame(4, 0, 0, struct.pack(">Q", 1))
    return out


put("fuzz_master_session", b"\x00" + agent_traffic(1, 1))
put("fuzz_master_session", b"\x0e" + agent_traffic(1, 3))
# After a restart: seq 1..4 replayed (history on channel 5 dropped), then channel 1 goes on.
put("fuzz_master_session", b"\x01" + frame(2, 5, 1, b"old") + frame(1, 5, 2, b'{"type":"close"}')
    + agent_traffic(3, 1))
