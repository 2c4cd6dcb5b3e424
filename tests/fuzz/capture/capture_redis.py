#!/usr/bin/env python3
"""capture_redis.py -- real RESP2 and RESP3 replies from redis-server.

Starts redis-server on a free loopback port (no persistence), sends
commands over raw sockets, and saves each reply's exact bytes:

  tests/fuzz/corpus/resp/redis-<name>      the reply bytes
  tests/unit/captures_resp.h               the same as C arrays, with the
                                           type byte the unit test expects
                                           and the number of replies

Covers GET/SET/HGETALL/SMEMBERS/ZSCORE (a double in RESP3), errors,
nulls, HELLO's map, INFO's verbatim string, a pipelined batch of 16
replies, and a CLIENT TRACKING invalidation push.  The server is stopped
on every exit path.

    python3 tests/fuzz/capture/capture_redis.py   (needs redis-server:
    bash cmake/apt-ensure.sh redis-server)
"""
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from cheader import write_header  # noqa: E402


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def reply_end(buf, i=0):
    """Index just past the reply at buf[i:], or None if incomplete."""
    j = buf.find(b"\r\n", i)
    if j < 0:
        return None
    t, head, nxt = buf[i:i + 1], buf[i + 1:j], j + 2
    if t in b"$!=" and head != b"?":
        n = int(head)
        if n < 0:
            return nxt
        return nxt + n + 2 if len(buf) >= nxt + n + 2 else None
    if t in b"*%~>|" and head != b"?":
        n = int(head)
        n = n * 2 if t in b"%|" else n
        for _ in range(max(n, 0)):
            nxt = reply_end(buf, nxt)
            if nxt is None:
                return None
        if t == b"|":  # an attribute: the value follows
            return reply_end(buf, nxt)
        return nxt
    if t in b"+-:,_#(":
        return nxt
    raise ValueError("streamed or unknown reply: %r" % buf[i:i + 20])


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def read(self, count=1):
        """The next `count` replies, as the exact bytes received."""
        end = 0
        while True:
            end, done = 0, 0
            while done < count:
                e = reply_end(self.buf, end)
                if e is None:
                    break
                end, done = e, done + 1
            if done == count:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            self.buf += self.s.recv(65536)

    def call(self, *args):
        self.s.sendall(encode(*args))
        return self.read()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def session(port):
    caps = []  # (name, bytes, expected first type byte, replies)

    def keep(name, data, replies=1):
        caps.append((name, data, chr(data[0]), str(replies)))

    c = Conn(port)
    keep("resp2-ping", c.call("PING"))
    keep("resp2-set", c.call("SET", "foo", "bar"))
    keep("resp2-get", c.call("GET", "foo"))
    keep("resp2-get-missing", c.call("GET", "nosuchkey"))
    keep("resp2-incr", c.call("INCR", "counter"))
    c.call("HSET", "h", "field1", "v1", "field2", "v2")
    keep("resp2-hgetall", c.call("HGETALL", "h"))
    c.call("SADD", "s", "a", "b", "c")
    keep("resp2-smembers", c.call("SMEMBERS", "s"))
    c.call("ZADD", "z", "1.5", "m", "inf", "top", "-2.25e-5", "tiny")
    keep("resp2-zscore", c.call("ZSCORE", "z", "m"))
    keep("resp2-zrange-withscores", c.call("ZRANGE", "z", "0", "-1",
                                           "WITHSCORES"))
    keep("resp2-error-unknown", c.call("NOSUCHCOMMAND", "x"))
    keep("resp2-error-wrongtype", c.call("GET", "h"))
    keep("resp2-mget-null", c.call("MGET", "foo", "nosuchkey"))
    keep("resp2-empty-array", c.call("LRANGE", "nosuchlist", "0", "-1"))
    keep("resp2-null-array", c.call("BLPOP", "nosuchlist", "0.01"))
    c.call("SET", "big", "x" * 6000)
    keep("resp2-get-big", c.call("GET", "big"))
    c.s.sendall(b"".join(encode("GET", "foo") for _ in range(16)))
    keep("resp2-pipeline-16", c.read(16), 16)

    keep("resp3-hello", c.call("HELLO", "3"))
    keep("resp3-get", c.call("GET", "foo"))
    keep("resp3-get-missing", c.call("GET", "nosuchkey"))
    keep("resp3-hgetall", c.call("HGETALL", "h"))
    keep("resp3-smembers", c.call("SMEMBERS", "s"))
    keep("resp3-zscore", c.call("ZSCORE", "z", "m"))
    keep("resp3-zscore-inf", c.call("ZSCORE", "z", "top"))
    keep("resp3-zscore-tiny", c.call("ZSCORE", "z", "tiny"))
    keep("resp3-zrange-withscores", c.call("ZRANGE", "z", "0", "-1",
                                           "WITHSCORES"))
    keep("resp3-error", c.call("GET", "h"))
    keep("resp3-null-array", c.call("BLPOP", "nosuchlist", "0.01"))
    keep("resp3-config-map", c.call("CONFIG", "GET", "maxmemory*"))
    keep("resp3-info-verbatim", c.call("INFO", "keyspace"))
    keep("resp3-exists", c.call("EXISTS", "foo", "nosuchkey"))

    # Client-side caching: read a key, change it elsewhere, get a push.
    keep("resp3-tracking-on", c.call("CLIENT", "TRACKING", "on"))
    c.call("GET", "foo")
    other = Conn(port)
    other.call("SET", "foo", "changed")
    other.s.close()
    keep("resp3-push-invalidate", c.read())
    c.s.close()
    return caps


def main():
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--daemonize", "no",
         "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        caps = session(port)
        version = subprocess.run(["redis-server", "--version"],
                                 capture_output=True, text=True).stdout.split()
        version = next((v for v in version if v.startswith("v=")), "v=?")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", "resp")
    os.makedirs(corpus, exist_ok=True)
    for name, data, t, n in caps:
        with open(os.path.join(corpus, "redis-" + name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes, type {t!r}, {n} replies")
    write_header(
        os.path.join(ROOT, "tests", "unit", "captures_resp.h"),
        "captures_resp.h -- replies captured from redis-server "
        + version[2:] + " by tests/fuzz/capture/capture_redis.py",
        "resp_capture", ["type", "replies"], [(n, d, [t, r]) for n, d, t, r in caps])


if __name__ == "__main__":
    main()
