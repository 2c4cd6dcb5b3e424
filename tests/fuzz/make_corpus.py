#!/usr/bin/env python3
"""make_corpus.py -- writes the hand-made seed corpora of tests/fuzz.

    python3 tests/fuzz/make_corpus.py

Rewrites corpus/<target>/seed-*.  Files of other names (regression inputs
that a fuzzer found, named crash-*, regress-*) are left alone.  Each seed
is one shape: a valid message, a pipelined sequence, a smuggling attempt,
a limit; the fuzzer mutates from there.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "wrk": b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    "browser": (b"GET /static/app.js?v=12 HTTP/1.1\r\nHost: example.com\r\n"
                b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
                b"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
                b"Accept-Encoding: gzip, deflate, br\r\nReferer: https://example.com/\r\n"
                b"Connection: keep-alive\r\nCookie: a=1; b=2\r\n"
                b"Sec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\n"
                b"Sec-Fetch-Site: same-origin\r\nPragma: no-cache\r\n\r\n"),
    "post-length": b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    "post-chunked": (b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"),
    "pipelined": (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                  b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                  b"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
    "http10": b"GET / HTTP/1.0\r\n\r\n",
    "http10-keepalive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "absolute": b"GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "options-star": b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "upgrade": (b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"),
    "expect": b"PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
    "leading-crlf": b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: h\nX: y\n\n",
    "ows": b"GET / HTTP/1.1\r\nHost:h\r\nA: \t v \t\r\nB:\r\n\r\n",
    "other-method": b"PROPFIND /dav HTTP/1.1\r\nHost: h\r\nDepth: 1\r\n\r\n",
    "smuggle-cl-te": (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"),
    "smuggle-te-cl": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"),
    "smuggle-cl-cl": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "smuggle-cl-list": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
    "smuggle-cl-sign": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
    "smuggle-cl-overflow": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551621\r\n\r\n",
    "smuggle-te-obfuscated": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "smuggle-te-list": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    "smuggle-te-twice": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n"),
    "smuggle-te-space-colon": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
    "smuggle-obs-fold": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n",
    "smuggle-bare-cr": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
    "smuggle-te-http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-two-spaces": b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
    "bad-ctl-target": b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n",
    "bad-ctl-value": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
    "bad-name": b"GET / HTTP/1.1\r\nHost: h\r\nA(b: c\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "version-505": b"GET / HTTP/3.0\r\nHost: h\r\n\r\n",
    "tls-hello": bytes.fromhex("16030100a5010000a10303") + b"\x00" * 16,
    "long-line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    "many-fields": b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(
        b"X-%d: %d\r\n" % (i, i) for i in range(110)) + b"\r\n",
}

RESPONSES = {
    "ok-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "ok-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "ok-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it",
    "http10": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    "http10-keepalive": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    "no-reason": b"HTTP/1.1 204\r\n\r\n",
    "not-modified": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
    "continue-then-ok": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "switching": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
    "pipelined": (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                  b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                  b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "bad-status": b"HTTP/1.1 20 OK\r\n\r\n",
    "bad-cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "bad-te": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "obs-text-reason": b"HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\nServer: x\r\n\r\n",
}

CHUNKED = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "many": b"1\r\na\r\n2\r\nbc\r\nA\r\n0123456789\r\nff\r\n" + b"x" * 255 + b"\r\n0\r\n\r\n",
    "extensions": b"5;name=value;flag\r\nhello\r\n3 ; q=\"a b\"\r\nxyz\r\n0;last\r\n\r\n",
    "trailers": b"2\r\nhi\r\n0\r\nExpires: never\r\nX-Sum: 42\r\n\r\n",
    "leading-zeros": b"0005\r\nhello\r\n000\r\n\r\n",
    "upper-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "bare-lf": b"3\nabc\n0\nT: v\n\n",
    "pipelined-after": b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    "empty-body": b"0\r\n\r\n",
    "bad-size": b"g\r\nhello\r\n0\r\n\r\n",
    "bad-empty-size": b"\r\nhello\r\n0\r\n\r\n",
    "bad-overflow": b"10000000000000000\r\n",
    "bad-crlf": b"3\r\nabcX\r\n0\r\n\r\n",
    "bad-ext-ctl": b"3;a\x01\r\nabc\r\n0\r\n\r\n",
    "bad-ext-lf-inside": b"3;a\nb\r\nabc\r\n0\r\n\r\n",
    "bad-space-after-size": b"3 \r\nabc\r\n0\r\n\r\n",
    "bad-trailer-fold": b"0\r\nA: b\r\n c\r\n\r\n",
    "long-ext": b"1;" + b"e" * 5000 + b"\r\nx\r\n0\r\n\r\n",
}


def ws_frame(op, payload, fin=True, rsv=0, key=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    mb = 0x80 if key else 0
    if n < 126:
        h = bytes([b0, mb | n])
    elif n < 65536:
        h = bytes([b0, mb | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, mb | 127]) + struct.pack(">Q", n)
    if key:
        payload = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
        h += key
    return h + payload


K = b"\x37\xfa\x21\x3d"
SERVER = 0x01      # WS_SERVER: frames from a client, masked
IN_MSG = 0x02
RSV1 = 0x40
UNLIMITED = 0xFF

WS = {
    "text-masked": bytes([SERVER, UNLIMITED]) + ws_frame(1, b"Hello", key=K),
    "text-unmasked": bytes([0, UNLIMITED]) + ws_frame(1, b"Hello"),
    "binary-126": bytes([SERVER, UNLIMITED]) + ws_frame(2, bytes(range(200)), key=K),
    "binary-64k-truncated": bytes([0, UNLIMITED]) + ws_frame(2, b"\xab" * 65536)[:120],
    "fragmented": bytes([SERVER, UNLIMITED]) + ws_frame(1, b"Hel", fin=False, key=K)
    + ws_frame(9, b"ping", key=K) + ws_frame(0, b"lo \xce\xba", key=K),
    "close": bytes([SERVER, UNLIMITED]) + ws_frame(8, b"\x03\xe8bye", key=K),
    "close-empty": bytes([0, UNLIMITED]) + ws_frame(8, b""),
    "close-bad-code": bytes([0, UNLIMITED]) + ws_frame(8, b"\x03\xed"),
    "close-bad-utf8": bytes([0, UNLIMITED]) + ws_frame(8, b"\x03\xe8\xed\xa0\x80"),
    "ping-pong": bytes([0, UNLIMITED]) + ws_frame(9, b"x") + ws_frame(10, b"x"),
    "rsv1-deflate": bytes([SERVER | RSV1, UNLIMITED]) + ws_frame(1, b"\xf2\x48\x05\x00", rsv=4, key=K),
    "utf8-edges": bytes([0, UNLIMITED]) + ws_frame(
        1, "\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode()),
    "utf8-bad": bytes([0, UNLIMITED]) + ws_frame(1, b"a\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80"),
    "continuation-first": bytes([IN_MSG, UNLIMITED]) + ws_frame(0, b"rest"),
    "bad-nonminimal": bytes([0, UNLIMITED]) + bytes([0x82, 126, 0, 5]) + b"hello",
    "bad-opcode": bytes([0, UNLIMITED]) + bytes([0x83, 0]),
    "bad-control-long": bytes([0, UNLIMITED]) + bytes([0x89, 126, 0, 200]) + b"p" * 200,
    "too-big": bytes([0, 4]) + ws_frame(2, b"0123456789"),
    "mask-wrong-side": bytes([0, UNLIMITED]) + ws_frame(1, b"x", key=K),
    "raw-utf8": bytes([0, 0]) + "κόσμε ✓ 𝄞".encode(),
}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)


write("http_request", REQUESTS)
write("http_response", RESPONSES)
write("http_chunked", CHUNKED)
write("ws", WS)
