"""One file operation through the master's `GET /api/v1/fs` WebSocket (docs/api.md): what the
suite uses for the fs primitives the `remsh` CLI does not expose (rename, copy, chmod, hash).
A minimal RFC 6455 client in standard-library Python; 127.0.0.1 only, every read bounded."""
import base64
import json
import os
import socket
import struct


class FsAnswer:
    def __init__(self):
        self.result, self.tag, self.message, self.data = None, None, None, bytearray()

    def __repr__(self):
        return f"FsAnswer(result={self.result}, tag={self.tag}, message={self.message!r})"


def _send(sock, opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def _read(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("the master closed the WebSocket")
        out += chunk
    return bytes(out)


def _messages(sock):
    """Yields (opcode, payload) of whole messages (continuation frames joined)."""
    opcode, parts = None, bytearray()
    while True:
        b0, b1 = _read(sock, 2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", _read(sock, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", _read(sock, 8))[0]
        payload = _read(sock, n)
        op = b0 & 0x0F
        if op == 9:
            _send(sock, 10, payload)
            continue
        if op == 8:
            return
        if op:
            opcode = op
        parts += payload
        if b0 & 0x80:
            yield opcode, bytes(parts)
            parts = bytearray()


def fs_op(api_port, token, request, upload=None, timeout=30):
    """Runs one operation (`request`: the fs open fields plus `agent`); `upload`: bytes for
    `write` or `put_tree`. Returns an FsAnswer with the result or the error tag."""
    sock = socket.create_connection(("127.0.0.1", api_port), timeout=timeout)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /api/v1/fs HTTP/1.1\r\nHost: 127.0.0.1:{api_port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Authorization: Bearer {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += _read(sock, 1)
        assert head.split(b" ", 2)[1] == b"101", head
        _send(sock, 1, json.dumps(request).encode())
        if upload is not None:
            for i in range(0, len(upload), 65536):
                _send(sock, 2, b"\x04" + upload[i:i + 65536])
            _send(sock, 2, b"\x04")
        answer = FsAnswer()
        for opcode, payload in _messages(sock):
            if opcode == 2:
                answer.data += payload[1:]
                continue
            m = json.loads(payload)
            if m.get("type") == "result":
                answer.result = {k: v for k, v in m.items() if k != "type"}
                break
            if m.get("type") == "error":
                answer.tag, answer.message = m.get("tag"), m.get("message")
                break
        return answer
    finally:
        sock.close()
