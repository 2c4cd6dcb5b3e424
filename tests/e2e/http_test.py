"""host.http against real clients: curl, Python's http.client and urllib,
wrk, ab, websocket-client (python3-websocket), a Node client; and hostile
input from raw sockets (smuggling shapes, oversize heads, slow heads,
garbage, a body that never ends): the right status and a clean close."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import http.client

from harness import test, check, Host, script, free_port, connect, skip
import harness

SERVER = r'''
local http = require "host.http"
return http.server(function(req, res)
  local p = req.path
  if p == "/hello" then
    return res:send(200, "hello\n", { ["Content-Type"] = "text/plain" })
  elseif p == "/peer" then
    return res:send(200, req.peer)
  elseif p == "/echo" then
    local body, err = req:body()
    if not body then return end -- the module answers the failure
    return res:send(200, body, { ["X-Method"] = req.method,
      ["X-Chunked"] = req.headers["transfer-encoding"] or "no",
      ["X-Expect"] = req.headers.expect or "no" })
  elseif p == "/stream" then
    res:start(200, { ["Content-Type"] = "text/plain" })
    for i = 1, 5 do res:write("line " .. i .. "\n") end
    return res:finish()
  elseif p == "/ws" then
    local ws = http.websocket(req, res)
    if not ws then return end
    while true do
      local data, kind = ws:recv()
      if not data or kind == "close" then return end
      ws:send(data, kind)
    end
  end
  res:send(404, "not found\n")
end, { header_timeout = 1, body_timeout = 1, max_body = 1 << 20 })
'''


class Server:
    def __init__(self, workers=1):
        self.port = free_port()
        self.host = Host(["--workers", str(workers), "--listen", "127.0.0.1:%d" % self.port,
                          script("http_server.lua", SERVER)])
        connect(self.port).close()
        self.url = "http://127.0.0.1:%d" % self.port

    def close(self):
        """A clean stop (SIGTERM, exit 0): under the sanitizers that is
        also the leak check."""
        try:
            self.host.signal(signal.SIGINT if harness.WINE else signal.SIGTERM)
            code = self.host.wait(30)
        finally:
            self.host.close()
        err = self.host.stderr()
        check(code == 0, "exit %s: %s" % (code, err))
        check("ERROR" not in err and "Sanitizer" not in err, "no error: " + err)


def served(fn):
    """A test that gets a fresh server."""
    def run():
        s = Server()
        try:
            fn(s)
        finally:
            s.close()
    run.__name__ = fn.__name__
    run.__module__ = fn.__module__
    return test(run)


def tool(name, package):
    if not shutil.which(name):
        subprocess.run(["bash", "cmake/apt-ensure.sh", package], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if not shutil.which(name):
        skip("%s is not installed (Debian: %s)" % (name, package))
    return name


def sh(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


# ---- curl ------------------------------------------------------------------

@served
def curl_reuses_its_connection(s):
    curl = tool("curl", "curl")
    r = sh([curl, "-sv", s.url + "/peer", s.url + "/peer"])
    out, err = r.stdout.decode(), r.stderr.decode()
    check(r.returncode == 0, err)
    check("Re-using existing connection" in err, err)
    peers = out.split("127.0.0.1")
    check(len(peers) == 3 and peers[1] == peers[2], "one connection: " + out)


@served
def curl_http_1_0(s):
    curl = tool("curl", "curl")
    r = sh([curl, "-sv", "--http1.0", s.url + "/hello"])
    err = r.stderr.decode()
    check(r.stdout == b"hello\n", r.stdout)
    check("HTTP/1.1 200 OK" in err and "Connection: close" in err, err)


@served
def curl_uploads_chunked_from_stdin(s):
    curl = tool("curl", "curl")
    data = os.urandom(300000)
    r = sh([curl, "-s", "-T", "-", "-D", "-", "-o", "/dev/null", s.url + "/echo"], input=data)
    head = r.stdout.decode("latin-1")
    check("X-Chunked: chunked" in head and "X-Method: PUT" in head, head)
    r = sh([curl, "-s", "-T", "-", s.url + "/echo"], input=data)
    check(r.stdout == data, "%d bytes back" % len(r.stdout))


@served
def curl_expect_100_continue(s):
    curl = tool("curl", "curl")
    data = b"x" * 5000
    r = sh([curl, "-sv", "-H", "Expect: 100-continue", "--data-binary", "@-", s.url + "/echo"],
           input=data)
    err = r.stderr.decode()
    check("HTTP/1.1 100 Continue" in err, err)
    check(r.stdout == data)


@served
def curl_streams_chunked(s):
    curl = tool("curl", "curl")
    r = sh([curl, "-s", s.url + "/stream"])
    check(r.stdout == b"".join(b"line %d\n" % i for i in range(1, 6)), r.stdout)


# ---- Python's clients ------------------------------------------------------

@served
def python_http_client_keeps_alive(s):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    peers = set()
    for _ in range(5):
        c.request("GET", "/peer")
        r = c.getresponse()
        check(r.status == 200)
        peers.add(r.read())
    check(len(peers) == 1, peers)
    c.request("HEAD", "/hello")
    r = c.getresponse()
    check(r.getheader("Content-Length") == "6" and r.read() == b"")
    c.request("POST", "/echo", body=iter([b"ab", b"cd"]), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    check(r.read() == b"abcd" and r.getheader("X-Chunked") == "chunked")
    c.request("GET", "/nothing")
    r = c.getresponse()
    check(r.status == 404 and r.read() == b"not found\n")
    c.close()


@served
def python_urllib(s):
    with urllib.request.urlopen(s.url + "/hello", timeout=10) as r:
        check(r.status == 200 and r.read() == b"hello\n")
        check(r.headers["Content-Type"] == "text/plain")
    req = urllib.request.Request(s.url + "/echo", data=b"posted", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        check(r.read() == b"posted" and r.headers["X-Method"] == "POST")


# ---- load tools --------------------------------------------------------------

@served
def wrk_keep_alive_and_pipelined(s):
    wrk = tool("wrk", "wrk")
    r = sh([wrk, "-t1", "-c10", "-d1s", s.url + "/hello"])
    out = r.stdout.decode()
    check(r.returncode == 0 and "requests in" in out, out + r.stderr.decode())
    check("Non-2xx" not in out and "Socket errors" not in out, out)
    pipeline = script("pipeline.lua", '''
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/hello") end
  req = table.concat(r)
end
request = function() return req end
''')
    r = sh([wrk, "-t1", "-c10", "-d1s", "-s", pipeline, s.url + "/hello"])
    out = r.stdout.decode()
    check("requests in" in out and "Non-2xx" not in out and "Socket errors" not in out, out)


@served
def ab_with_and_without_keep_alive(s):
    ab = tool("ab", "apache2-utils")
    for args in (["-n", "500", "-c", "10"], ["-k", "-n", "2000", "-c", "10"]):
        r = sh([ab] + args + [s.url + "/hello"])
        out = r.stdout.decode()
        check("Complete requests:      %s" % args[-3] in out, out + r.stderr.decode())
        check("Failed requests:        0" in out, out)
        check("Non-2xx" not in out, out)
        if "-k" in args:
            check("Keep-Alive requests:    %s" % args[-3] in out, out)


# ---- WebSocket ------------------------------------------------------------------

def websocket_module():
    try:
        import websocket  # noqa: F401
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")  # Debian's, under pyenv
        try:
            import websocket  # noqa: F401
        except ImportError:
            subprocess.run(["bash", "cmake/apt-ensure.sh", "python3-websocket"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                import websocket  # noqa: F401
            except ImportError:
                skip("websocket-client is not installed (Debian: python3-websocket)")
    return sys.modules["websocket"]


@served
def python_websocket_client(s):
    websocket = websocket_module()
    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % s.port, timeout=10)
    ws.send("hello")
    check(ws.recv() == "hello")
    ws.send_binary(b"\x00\x01\xff")
    check(ws.recv() == b"\x00\x01\xff")
    big = "x" * 200000
    ws.send(big)
    check(ws.recv() == big)
    ws.ping("p")
    ws.send("after ping")
    frame = ws.recv_frame()
    while frame.opcode == websocket.ABNF.OPCODE_PONG:
        frame = ws.recv_frame()
    check(frame.data == b"after ping", frame.data)
    ws.close()


NODE_CLIENT = r'''
// A WebSocket client written against RFC 6455 with node's net and
// crypto: handshake, masked frames, echo check, close.
const net = require("net"), crypto = require("crypto");
const port = +process.argv[2];
const key = crypto.randomBytes(16).toString("base64");
const want = crypto.createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
const msgs = ["hello", "x".repeat(70000), "last"];
const s = net.connect(port, "127.0.0.1");
let buf = Buffer.alloc(0), shaken = false, got = 0;
function frame(op, payload) {
  const mask = crypto.randomBytes(4), n = payload.length;
  let head;
  if (n < 126) head = Buffer.from([0x80 | op, 0x80 | n]);
  else if (n < 65536) { head = Buffer.from([0x80 | op, 0x80 | 126, 0, 0]); head.writeUInt16BE(n, 2); }
  else { head = Buffer.alloc(10); head[0] = 0x80 | op; head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(n), 2); }
  const body = Buffer.from(payload);
  for (let i = 0; i < n; i++) body[i] ^= mask[i % 4];
  return Buffer.concat([head, mask, body]);
}
s.on("connect", () => s.write("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"));
s.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (!shaken) {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = buf.slice(0, end).toString();
    if (!head.startsWith("HTTP/1.1 101") || !head.includes(want)) { console.log("bad handshake", head); process.exit(1); }
    shaken = true; buf = buf.slice(end + 4);
    for (const m of msgs) s.write(frame(1, m));
  }
  while (buf.length >= 2) {
    let n = buf[1] & 127, off = 2;
    if (n === 126) { if (buf.length < 4) return; n = buf.readUInt16BE(2); off = 4; }
    else if (n === 127) { if (buf.length < 10) return; n = Number(buf.readBigUInt64BE(2)); off = 10; }
    if (buf.length < off + n) return;
    const op = buf[0] & 15, data = buf.slice(off, off + n).toString();
    buf = buf.slice(off + n);
    if (op === 8) { console.log("closed " + got); s.end(); return; }
    if (data !== msgs[got]) { console.log("mismatch at " + got); process.exit(1); }
    if (++got === msgs.length) s.write(frame(8, Buffer.from([3, 232])));
  }
});
s.setTimeout(10000, () => { console.log("timeout"); process.exit(1); });
'''


@served
def node_websocket_client(s):
    node = tool("node", "nodejs")
    r = sh([node, script("ws_client.js", NODE_CLIENT), str(s.port)])
    check(r.stdout.decode().strip() == "closed 3", r.stdout.decode() + r.stderr.decode())


NODE_HTTP = r'''
const http = require("http");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const port = +process.argv[2];
let peers = new Set(), left = 5;
function one() {
  http.get({ host: "127.0.0.1", port, path: "/peer", agent }, (res) => {
    let body = "";
    res.on("data", (d) => body += d);
    res.on("end", () => { peers.add(body); if (--left) one(); else { console.log(peers.size); agent.destroy(); } });
  });
}
one();
'''


@served
def node_http_client_keeps_alive(s):
    node = tool("node", "nodejs")
    r = sh([node, script("http_client.js", NODE_HTTP), str(s.port)])
    check(r.stdout.decode().strip() == "1", r.stdout.decode() + r.stderr.decode())


# ---- hostile input ------------------------------------------------------------

def exchange(port, data, wait=5):
    """Sends data, reads until the server closes; returns what came."""
    sock = connect(port, timeout=wait)
    try:
        sock.sendall(data)
    except OSError:
        pass
    out = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            sock.close()
            return out, True
        out += chunk
    sock.close()
    return out, False


HOSTILE = [
    ("CL and TE", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two CL", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("TE list ending otherwise", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501),
    ("bad chunk size", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400),
    ("chunk size overflow", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
    ("obs-fold", b"GET /hello HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", 400),
    ("long request line", b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("long header", b"GET /hello HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 10000 + b"\r\n\r\n", 431),
    ("huge head", b"GET /hello HTTP/1.1\r\nHost: x\r\n" + b"X-Y: " + b"c" * 4000 + b"\r\n" * 1 + (b"X-Z: " + b"d" * 4000 + b"\r\n") * 9 + b"\r\n", 431),
    ("body over max_body", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
    ("NUL in a value", b"GET /hello HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
]


@served
def hostile_requests_get_their_status_and_a_close(s):
    for name, data, status in HOSTILE:
        out, closed = exchange(s.port, data)
        line = out.split(b"\r\n", 1)[0]
        check(line.startswith(b"HTTP/1.1 %d " % status), "%s: %r" % (name, out[:200]))
        check(closed, "%s: the connection stays open" % name)


@served
def garbage_after_a_valid_request(s):
    out, closed = exchange(s.port, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01garbage\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 200 OK") and b"HTTP/1.1 400 Bad Request" in out, out)
    check(closed)


@served
def slow_head_gets_408(s):
    sock = connect(s.port)
    t0 = time.monotonic()
    sock.sendall(b"GET /hello HTTP/1.1\r\n")
    for _ in range(10):  # a header every 0.3 s, header_timeout is 1 s
        try:
            sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            break
        time.sleep(0.3)
    sock.settimeout(5)
    out = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        out += chunk
    sock.close()
    check(out.startswith(b"HTTP/1.1 408 "), out)
    check(time.monotonic() - t0 < 4)


@served
def body_that_never_ends_gets_408(s):
    out, closed = exchange(s.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
    check(out.startswith(b"HTTP/1.1 408 "), out)
    check(closed)


@served
def many_hostile_clients_leave_the_server_serving(s):
    for i in range(50):
        exchange(s.port, bytes([i]) * 100 + b"\r\n\r\n", wait=2)
    with urllib.request.urlopen(s.url + "/hello", timeout=10) as r:
        check(r.read() == b"hello\n")


@test
def graceful_stop_closes_idle_keep_alive_connections():
    s = Server()
    try:
        idle = connect(s.port)
        idle.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        check(idle.recv(4096).startswith(b"HTTP/1.1 200 OK"))
        fresh = connect(s.port)
        time.sleep(0.2)
        t0 = time.monotonic()
        s.host.signal(signal.SIGINT if harness.WINE else signal.SIGTERM)
        idle.settimeout(4)
        check(idle.recv(100) == b"", "the idle connection is closed")
        check(fresh.recv(100) == b"", "so is one that never sent a request")
        check(s.host.wait(10) == 0)
        check(time.monotonic() - t0 < 4, "not held for the grace period")
        check("grace period over" not in s.host.stderr(), s.host.stderr())
        idle.close()
        fresh.close()
    finally:
        s.host.close()
