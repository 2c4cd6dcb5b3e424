#!/usr/bin/env python3
"""capture_proxy.py -- real PROXY protocol headers from HAProxy.

Runs haproxy on loopback with one frontend per header shape, each
relaying to a tiny listener here that saves the first bytes of every
connection; a client connects to each frontend from a known source port
and sends "hello\\n".  Writes:

  tests/fuzz/corpus/proxy/haproxy-<name>     the header + "hello\\n"
  tests/unit/captures_proxy.h                the same bytes as C arrays,
                                             with the addresses the test
                                             must find in them

The expected addresses come from our own sockets (the client's bound
source, the frontend's address), not from the header, so the unit test
checks the parser against what really happened.  haproxy is stopped on
every exit path.

    python3 tests/fuzz/capture/capture_proxy.py     (needs haproxy:
    bash cmake/apt-ensure.sh haproxy)
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from cheader import write_header  # noqa: E402

# name, bind address family, server options, frontend extra lines
SHAPES = [
    ("v1-tcp4", "127.0.0.1", "send-proxy", []),
    ("v1-tcp6", "::1", "send-proxy", []),
    ("v2-tcp4", "127.0.0.1", "send-proxy-v2", []),
    ("v2-tcp6", "::1", "send-proxy-v2", []),
    ("v2-tcp4-tlvs", "127.0.0.1",
     "send-proxy-v2 proxy-v2-options unique-id,crc32c,ssl,authority,ssl-cipher,cert-cn,cert-sig,cert-key",
     ["unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt"]),
    ("v2-tcp6-crc32c", "::1", "send-proxy-v2 proxy-v2-options crc32c", []),
]


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sink:
    """Accepts connections and keeps the first bytes of each."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.lock = threading.Lock()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        data = b""
        c.settimeout(3)
        try:
            while not data.endswith(b"hello\n"):
                more = c.recv(4096)
                if not more:
                    break
                data += more
        except OSError:
            pass
        c.close()
        with self.lock:
            self.got.append(data)

    def take(self, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if self.got:
                    return self.got.pop(0)
            time.sleep(0.02)
        raise RuntimeError("no connection reached the sink")


def fmt(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main():
    sink = Sink()
    fronts = []
    lines = ["global", "  maxconn 64", "defaults", "  mode tcp",
             "  timeout connect 2s", "  timeout client 5s", "  timeout server 5s"]
    for i, (name, host, opts, extra) in enumerate(SHAPES):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        port = free_port(fam, host)
        fronts.append((name, host, port))
        lines += [f"frontend f{i}", f"  bind {fmt(host, port)}"]
        lines += [f"  {x}" for x in extra]
        lines += [f"  default_backend b{i}", f"backend b{i}",
                  f"  server s{i} 127.0.0.1:{sink.port} {opts}"]
    cfg = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
    cfg.write("\n".join(lines) + "\n")
    cfg.close()
    proc = subprocess.Popen(["haproxy", "-db", "-f", cfg.name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    captures = []
    try:
        time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError("haproxy failed: " + proc.stderr.read().decode())
        for name, host, port in fronts:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            c = socket.socket(fam, socket.SOCK_STREAM)
            c.bind((host, 0))
            src = c.getsockname()[:2]
            c.connect((host, port))
            c.sendall(b"hello\n")
            data = sink.take()
            c.close()
            captures.append((name, data, fmt(*src), fmt(host, port)))
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.unlink(cfg.name)

    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", "proxy")
    os.makedirs(corpus, exist_ok=True)
    for name, data, src, dst in captures:
        with open(os.path.join(corpus, "haproxy-" + name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes, src {src} dst {dst}")
    write_header(
        os.path.join(ROOT, "tests", "unit", "captures_proxy.h"),
        "captures_proxy.h -- PROXY headers captured from "
        + proc_version() + " by tests/fuzz/capture/capture_proxy.py",
        "proxy_capture", ["src", "dst"],
        [(n, d, [s, t]) for n, d, s, t in captures])


def proc_version():
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True)
    return out.stdout.split("\n")[0].split(" - ")[0]


if __name__ == "__main__":
    main()
