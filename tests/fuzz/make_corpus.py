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
