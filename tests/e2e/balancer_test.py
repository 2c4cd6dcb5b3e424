"""Behind a real load balancer: HAProxy (send-proxy, send-proxy-v2, round
robin across two host processes, health checks that talk to the handler)
and nginx's stream module (proxy_protocol on).  The handler answers with
the addresses it sees, which must be the client's, not the balancer's.

The balancers are Debian's packages, installed by cmake/apt-ensure.sh on
first use (CI has none at first); every process started here is stopped
here, and everything listens on loopback only.
"""
import os
import shutil
import socket
import subprocess
import time

from harness import (Host, SCRATCH, WINE, check, connect, free_port,
                     recv_line, script, skip, test)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

# Answers "<tag> <peer> <address>" to every line; a health check's "PING"
# gets "PONG" (and counts, with the PROXY command it came with).
WHO = """
local host = require "host"
local tag, addr = ...
host.listen(addr, function(conn)
  for line in conn:lines() do
    if line == "PING" then
      conn:send("PONG " .. (conn.proxy and conn.proxy.command or "none") .. "\\n")
    else
      conn:send(tag .. " " .. conn.peer .. " " .. conn.address .. "\\n")
    end
  end
end, { proxy_protocol = true, proxy_timeout = 2 })
"""


def ensure(*packages):
    if WINE:
        skip("the balancer tests run on Linux only")
    r = subprocess.run(["bash", os.path.join(ROOT, "cmake", "apt-ensure.sh")] + list(packages),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    if r.returncode != 0:
        raise AssertionError("cannot install %s: %s" % (packages, r.stderr.decode()[-500:]))


def start_hosts(n=2):
    path = script("who.lua", WHO)
    hosts, ports = [], []
    for i in range(n):
        port = free_port()
        h = Host(["--workers", "1", path, "h%d" % (i + 1), "127.0.0.1:%d" % port])
        hosts.append(h)
        ports.append(port)
    for h, port in zip(hosts, ports):
        check(h.wait_log("listening on 127.0.0.1:%d" % port), h.stderr())
    return hosts, ports


class Proc:
    """A balancer process; stopped (and reaped) by close()."""

    def __init__(self, cmd, log):
        self.log = log
        self.out = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()


def ask(port):
    """One connection through the balancer: (tag, peer, address, our port)."""
    s = connect(port)
    try:
        s.sendall(b"who\n")
        line = recv_line(s).decode().strip()
        mine = s.getsockname()[1]
    finally:
        s.close()
    parts = line.split(" ")
    check(len(parts) == 3, "bad answer %r" % line)
    return parts[0], parts[1], parts[2], mine


def haproxy_stat(sock_path):
    """{server name: status} from HAProxy's stats socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = {}
    for row in data.decode().splitlines():
        cols = row.split(",")
        if len(cols) > 17 and cols[0] == "be" and cols[1] not in ("BACKEND", "FRONTEND"):
            status[cols[1]] = cols[17]
    return status


def haproxy_round_robin(send_proxy):
    ensure("haproxy")
    hosts, ports = start_hosts()
    front = free_port()
    sock_path = os.path.join(SCRATCH, "haproxy-%d.sock" % front)
    cfg = os.path.join(SCRATCH, "haproxy-%d.cfg" % front)
    with open(cfg, "w") as f:
        f.write("""global
  stats socket %s level admin
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:%d
  default_backend be
backend be
  balance roundrobin
  option tcp-check
  tcp-check send PING\\n
  tcp-check expect rstring ^PONG
  server h1 127.0.0.1:%d %s check check-send-proxy inter 300 fall 2 rise 1
  server h2 127.0.0.1:%d %s check check-send-proxy inter 300 fall 2 rise 1
""" % (sock_path, front, ports[0], send_proxy, ports[1], send_proxy))
    hap = Proc(["haproxy", "-db", "-f", cfg], cfg + ".log")
    try:
        deadline = time.monotonic() + 10
        status = {}
        while time.monotonic() < deadline:
            try:
                status = haproxy_stat(sock_path)
            except OSError:
                status = {}
            if status.get("h1") == "UP" and status.get("h2") == "UP":
                break
            time.sleep(0.1)
        check(status.get("h1") == "UP" and status.get("h2") == "UP",
              "health checks: %r\n%s" % (status, hap.text()))
        tags = []
        for _ in range(6):
            tag, peer, address, mine = ask(front)
            tags.append(tag)
            # The client's own address and port, the balancer's front.
            check(peer == "127.0.0.1:%d" % mine, "peer %s, client port %d" % (peer, mine))
            check(address == "127.0.0.1:%d" % front, "address %s" % address)
        check(sorted(set(tags)) == ["h1", "h2"], "round robin: %r" % tags)
        check(all(tags[i] != tags[i + 1] for i in range(len(tags) - 1)),
              "not alternating: %r" % tags)
        # A host that stops is marked down; the other takes everything.
        hosts[1].signal(15)
        check(hosts[1].wait(10) == 0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and haproxy_stat(sock_path).get("h2") != "DOWN":
            time.sleep(0.1)
        check(haproxy_stat(sock_path).get("h2") == "DOWN", hap.text())
        check(set(ask(front)[0] for _ in range(3)) == {"h1"})
    finally:
        hap.close()
        for h in hosts:
            h.signal(15)
            h.wait(10)
            h.close()


@test
def haproxy_send_proxy_v1():
    haproxy_round_robin("send-proxy")


@test
def haproxy_send_proxy_v2():
    haproxy_round_robin("send-proxy-v2")


@test
def nginx_stream_proxy_protocol():
    ensure("nginx-light", "libnginx-mod-stream")
    module = "/usr/lib/nginx/modules/ngx_stream_module.so"
    check(os.path.exists(module), "no %s" % module)
    hosts, ports = start_hosts()
    front = free_port()
    prefix = os.path.join(SCRATCH, "nginx-%d" % front)
    os.makedirs(prefix, exist_ok=True)
    cfg = os.path.join(prefix, "nginx.conf")
    with open(cfg, "w") as f:
        f.write("""load_module %s;
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 64; }
stream {
  upstream hosts { server 127.0.0.1:%d; server 127.0.0.1:%d; }
  server {
    listen 127.0.0.1:%d;
    proxy_pass hosts;
    proxy_protocol on;
  }
}
""" % (module, prefix, prefix, ports[0], ports[1], front))
    ngx = Proc(["nginx", "-p", prefix, "-e", prefix + "/error.log", "-c", cfg], prefix + "/out.log")
    try:
        tags = []
        for _ in range(4):
            tag, peer, address, mine = ask(front)
            tags.append(tag)
            check(peer == "127.0.0.1:%d" % mine, "peer %s, client port %d" % (peer, mine))
            check(address == "127.0.0.1:%d" % front, "address %s" % address)
        check(sorted(set(tags)) == ["h1", "h2"], "round robin: %r" % tags)
    finally:
        ngx.close()
        for h in hosts:
            h.signal(15)
            h.wait(10)
            h.close()
        shutil.rmtree(prefix, ignore_errors=True)
