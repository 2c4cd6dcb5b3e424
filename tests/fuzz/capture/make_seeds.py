#!/usr/bin/env python3
"""make_seeds.py -- the hand-made seeds of tests/fuzz/corpus/{proxy,resp}.

Every PROXY v1/v2 shape (TCP4, TCP6, UNKNOWN, LOCAL, UDP, UNIX, UNSPEC,
TLVs with the SSL sub-TLVs, a valid and a broken CRC32C) and malformed
ones; every RESP2/RESP3 type, nested, the null forms, streamed types,
attributes, pipelines, errors and huge length headers.  Files are named
seed-*, next to the captures (haproxy-*, redis-*) and the crashes kept as
regression seeds (crash-*).  Run it again after changing it; it rewrites
only seed-* files.

    python3 tests/fuzz/capture/make_seeds.py
"""
import os
import struct

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def tlv(t, value):
    return bytes([t]) + struct.pack(">H", len(value)) + value


def v2(ver_cmd, fam, body):
    return SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(body)) + body


def v2_crc(fam, addrs, tlvs, corrupt=False):
    body = addrs + tlvs + tlv(0x03, b"\0\0\0\0")
    h = v2(0x21, fam, body)
    c = crc32c(h) ^ (1 if corrupt else 0)
    return h[:-4] + struct.pack(">I", c)


INET4 = bytes([192, 0, 2, 1, 198, 51, 100, 7]) + struct.pack(">HH", 8080, 443)
INET6 = (bytes.fromhex("20010db8000000000000000000000001") +
         bytes.fromhex("00000000000000000000000000000002") +
         struct.pack(">HH", 65535, 80))
UNIX = b"/run/client.sock".ljust(108, b"\0") + b"\0abstract".ljust(108, b"\0")
SSL = bytes([0x07]) + struct.pack(">I", 0) + b"".join([
    tlv(0x21, b"TLSv1.3"), tlv(0x22, b"client.example"),
    tlv(0x23, b"TLS_AES_256_GCM_SHA384"), tlv(0x24, b"RSA-SHA256"),
    tlv(0x25, b"RSA2048")])

PROXY = {
    "v1-tcp4": b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n",
    "v1-tcp6-full": b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                    b"1:2:3:4:5:6:7:8 65535 65535\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-long": b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                       b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    "v1-bad-leading-zero": b"PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n",
    "v1-bad-port": b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
    "v1-bad-spaces": b"PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
    "v1-bad-lf": b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
    "v1-bad-v6": b"PROXY TCP6 1::2::3 ::1 1 2\r\n",
    "v1-too-long": b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n",
    "v1-partial": b"PROXY TCP4 1.2.3.4 1.2",
    "not-proxy": b"GET / HTTP/1.1\r\n\r\n",
    "v2-tcp4": v2(0x21, 0x11, INET4) + b"data",
    "v2-udp4": v2(0x21, 0x12, INET4),
    "v2-tcp6": v2(0x21, 0x21, INET6),
    "v2-udp6": v2(0x21, 0x22, INET6),
    "v2-unix-stream": v2(0x21, 0x31, UNIX),
    "v2-unix-dgram": v2(0x21, 0x32, UNIX),
    "v2-local": v2(0x20, 0x00, b""),
    "v2-local-with-addresses": v2(0x20, 0x11, INET4 + tlv(0x04, b"")),
    "v2-unspec": v2(0x21, 0x00, tlv(0x02, b"example.com")),
    "v2-tlvs": v2(0x21, 0x11, INET4 + tlv(0x01, b"h2") +
                  tlv(0x02, b"example.com") + tlv(0x05, b"id-1") +
                  tlv(0x30, b"ns1") + tlv(0xE0, b"")),
    "v2-ssl": v2(0x21, 0x11, INET4 + tlv(0x20, SSL)),
    "v2-crc32c": v2_crc(0x11, INET4, tlv(0x02, b"a.example")),
    "v2-crc32c-ssl-v6": v2_crc(0x21, INET6, tlv(0x20, SSL)),
    "v2-crc32c-bad": v2_crc(0x11, INET4, b"", corrupt=True),
    "v2-bad-version": v2(0x11, 0x11, INET4),
    "v2-bad-command": v2(0x22, 0x11, INET4),
    "v2-bad-family": v2(0x21, 0x41, INET4),
    "v2-short": v2(0x21, 0x21, INET4),
    "v2-tlv-overrun": v2(0x21, 0x11, INET4 + b"\x01\x00\x09ab"),
    "v2-ssl-overrun": v2(0x21, 0x11, INET4 + tlv(0x20, b"\x01\0\0\0\0\x21\x00\x09x")),
    "v2-too-big": SIG + b"\x21\x11\xff\xff" + INET4,
    "v2-partial": v2(0x21, 0x11, INET4)[:20],
}

RESP = {
    "simple": b"+OK\r\n",
    "error": b"-ERR unknown command 'x'\r\n",
    "integers": b":0\r\n:-1\r\n:9223372036854775807\r\n:-9223372036854775808\r\n",
    "bulk": b"$3\r\nbar\r\n",
    "bulk-empty": b"$0\r\n\r\n",
    "bulk-binary": b"$4\r\na\r\nb\r\n",
    "null-bulk": b"$-1\r\n",
    "null-array": b"*-1\r\n",
    "null": b"_\r\n",
    "array-nested": b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n*0\r\n",
    "doubles": b",1.5\r\n,-2\r\n,1e10\r\n,1.5E-3\r\n,inf\r\n,-inf\r\n,nan\r\n,-nan\r\n"
               b",-2.2500000000000001e-05\r\n,12345678901234567890123\r\n",
    "booleans": b"#t\r\n#f\r\n",
    "blob-error": b"!21\r\nSYNTAX invalid syntax\r\n",
    "verbatim": b"=15\r\ntxt:Some string\r\n",
    "bignum": b"(3492890328409238509324850943850943825024385\r\n(-1\r\n",
    "map": b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
    "set": b"~3\r\n+a\r\n#t\r\n:9\r\n",
    "push": b">3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n",
    "attribute": b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n"
                 b"*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n",
    "streamed-string": b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n",
    "streamed-aggregates": b"*?\r\n:1\r\n%?\r\n+a\r\n:1\r\n.\r\n~?\r\n.\r\n.\r\n",
    "composite": b"*7\r\n$5\r\nhello\r\n:-42\r\n%1\r\n+k\r\n,3.25\r\n|1\r\n+a\r\n+b\r\n"
                 b"~2\r\n#t\r\n_\r\n$?\r\n;2\r\nab\r\n;1\r\nc\r\n;0\r\n*?\r\n(123\r\n.\r\n"
                 b"=6\r\ntxt:hi\r\n",
    "deep": b"*1\r\n" * 70 + b":1\r\n",
    "pipeline": b"+OK\r\n$3\r\nbar\r\n:1\r\n" * 5 + b"*1\r\n",
    "big-bulk-header": b"$536870912\r\nabc",
    "too-big-bulk": b"$536870913\r\n",
    "huge-length": b"$99999999999999999999\r\n",
    "big-array-header": b"*1048576\r\n:1\r\n",
    "too-big-array": b"*1048577\r\n",
    "bad-int": b":01\r\n",
    "bad-double": b",.5\r\n",
    "bad-crlf": b"+a\nb\r\n",
    "bad-type": b"x\r\n",
    "push-nested": b"*1\r\n>1\r\n:1\r\n",
    "attr-before-end": b"*?\r\n|1\r\n+a\r\n+b\r\n.\r\n",
    "odd-streamed-map": b"%?\r\n+a\r\n.\r\n",
    "command": b"*3\r\n$3\r\nSET\r\n$10\r\nkey:000123\r\n$5\r\nvalue\r\n",
}


def write(kind, seeds):
    d = os.path.join(ROOT, "tests", "fuzz", "corpus", kind)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old.startswith("seed-"):
            os.unlink(os.path.join(d, old))
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
    print(f"{kind}: {len(seeds)} seeds")


if __name__ == "__main__":
    write("proxy", PROXY)
    write("resp", RESP)
