"""TLS end to end: the host's TLS listeners driven by real clients
(openssl s_client, Python's ssl module, curl), host.connect with TLS to
openssl s_server, verification failures, ALPN and SNI as the client sees
them, and bad input (plain text, a truncated handshake, a peer that stalls
mid-handshake, a reset mid-record, a 16 MiB message in pieces).

Every test runs one worker, checks that the worker serves a good client
after the bad one, and stops the host with a signal: it must exit 0 with
no sanitizer report, so under the ASan build (tests/run.sh runs this suite
on it) a leak fails the test.  The certificates come from
tests/tools/make-certs.sh (HOST_TEST_CERTS, else made here).  Under Wine
the clients are the same Linux programs, talking to host.exe on loopback.
"""
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time

from harness import test, check, Host, script, free_port, connect, skip, recv_exactly, SCRATCH
import harness

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
_certs = None


def certs():
    """The directory of the test PKI (made once per run)."""
    global _certs
    if _certs:
        return _certs
    d = os.environ.get("HOST_TEST_CERTS") or os.path.join(SCRATCH, "pki")
    if not os.path.exists(os.path.join(d, "ca.pem")):
        subprocess.run(["bash", os.path.join(ROOT, "tests", "tools", "make-certs.sh"), d],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _certs = os.path.abspath(d)
    return _certs


def cert(name):
    return os.path.join(certs(), name)


def slow():
    """How much slower the host starts and runs under Wine."""
    return 3 if harness.WINE else 1


def stop_clean(h, timeout=20):
    """Stops the host as an operator would; it must exit 0, and say nothing
    of leaks or undefined behaviour (the sanitizer build reports there)."""
    h.signal(signal.SIGINT if harness.WINE else signal.SIGTERM)
    code = h.wait(timeout)
    err = h.stderr()
    check(code == 0, "exit %r; stderr:\n%s" % (code, err))
    for bad in ("Sanitizer", "runtime error:", "LEAK", "ERROR ["):
        check(bad not in err, "%r in stderr:\n%s" % (bad, err))
    return err


# ---- the host's TLS server ------------------------------------------------

# One handler, four protocols, chosen by the first line: an HTTP request
# (for curl), "echo" (bytes back as they come), "big N" (one N-byte
# message read whole, then sent back whole), else a line protocol (each
# line upper-cased; "info" says what the handshake agreed; "quit").
SERVER = r"""
local host = require "host"
local certs, port, short = ...
local function f(n) return certs .. "/" .. n end
local tls = {
  cert = f("server.pem"), key = f("server.key"),
  alpn = { "h2", "http/1.1" },
  servers = {
    ["a.example"] = { cert = f("a.pem"), key = f("a.key") },
    ["b.example"] = { cert = f("b.pem"), key = f("b.key") },
  },
}

local function info(conn)
  local t = conn.tls
  return string.format("%s alpn=%s sni=%s", t.version, t.alpn or "-",
                       t.servername or "-")
end

local function http(conn, method, path)
  for _ = 1, 100 do -- the headers, up to the empty line
    local line = conn:read("l")
    if not line then return end
    if line == "" then break end
  end
  local body = string.format("%s %s over %s\n", method, path, info(conn))
  conn:send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
            "Content-Length: ", #body, "\r\nConnection: close\r\n\r\n", body)
end

local function echo(conn)
  while true do
    local data, err = conn:recv()
    if not data then return host.log("info", "echo ended: " .. err) end
    local ok, serr = conn:send(data)
    if not ok then return host.log("info", "echo send failed: " .. serr) end
  end
end

local function big(conn, n)
  local data, err = conn:read(n)
  if not data then return host.log("info", "big read failed: " .. err) end
  local ok, serr = conn:send(data)
  if not ok then return host.log("info", "big send failed: " .. serr) end
  host.log("info", "big sent " .. #data)
end

local function lines(conn, line)
  while line do
    if line == "quit" then return conn:send("bye\n") end
    if line == "info" then
      conn:send(info(conn), "\n")
    else
      conn:send(line:upper(), "\n")
    end
    line = conn:read("l")
  end
end

local function serve(conn)
  local first, err = conn:read("l")
  if not first then return host.log("info", "no first line: " .. err) end
  local method, path = first:match("^(%u+) (%S+) HTTP/1%.[01]$")
  if method then return http(conn, method, path) end
  if first == "echo" then return echo(conn) end
  local n = first:match("^big (%d+)$")
  if n then return big(conn, tonumber(n)) end
  return lines(conn, first)
end

assert(host.listen("127.0.0.1:" .. port, serve, { tls = tls }))
if short then
  assert(host.listen("127.0.0.1:" .. short, serve,
                     { tls = tls, handshake = 1 }))
end
"""


class TlsServer:
    """The host serving SERVER on `port` (default handshake deadline) and
    `short` (a 1 s deadline)."""

    def __init__(self, log_level="debug"):
        self.port, self.short = free_port(), free_port()
        path = script("tls_server.lua", SERVER)
        self.h = Host(["--workers", "1", "--log-level", log_level, path, certs(),
                       str(self.port), str(self.short)])
        for p in (self.port, self.short):
            if not self.h.wait_log(r"listening on 127\.0\.0\.1:%d" % p, 20 * slow()):
                self.h.close()
                raise AssertionError("no listener; stderr:\n" + self.h.stderr())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.h.close()

    def stop(self):
        return stop_clean(self.h)


def client_context(alpn=None, ca="ca.pem"):
    ctx = ssl.create_default_context(cafile=cert(ca))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, name="localhost", alpn=None):
    """A verified Python TLS client."""
    return client_context(alpn).wrap_socket(connect(port), server_hostname=name)


def duplex(s, payload, pieces, timeout):
    """Sends payload in pieces of the given sizes while reading the echo,
    in one thread (an SSL object must not be used by two threads at once:
    a sender thread made Python's recv() see a false end of stream under
    Wine); returns what came back."""
    timeout_before = s.gettimeout()
    s.setblocking(False)
    sent, k, got = 0, 0, bytearray()
    deadline = time.monotonic() + timeout
    while len(got) < len(payload):
        check(time.monotonic() < deadline, "echo stalled at %d of %d bytes (sent %d)"
              % (len(got), len(payload), sent))
        writing = sent < len(payload)
        r, w, _ = select.select([s], [s] if writing else [], [], 0.2)
        if w and writing:
            try:
                sent += s.send(payload[sent:sent + pieces[k % len(pieces)]])
                k += 1
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
        while r or s.pending():
            r = None
            try:
                chunk = s.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            check(chunk, "closed after %d of %d bytes" % (len(got), len(payload)))
            got += chunk
    s.settimeout(timeout_before)
    return bytes(got)


def recv_all(s, n):
    """Up to n bytes, until the peer closes; at most 256 KiB per recv()
    (Python's TLS recv allocates the whole size asked for each call)."""
    got = bytearray()
    while len(got) < n:
        chunk = s.recv(min(n - len(got), 262144))
        if not chunk:
            break
        got += chunk
    return bytes(got)


def same_bytes(got, want, what):
    """Checks got == want, saying where they first differ."""
    if got == want:
        return
    n = min(len(got), len(want))
    at = next((i for i in range(n) if got[i] != want[i]), n)
    raise AssertionError("%s: got %d of %d bytes, first difference at %d"
                         % (what, len(got), len(want), at))


def recv_line(s, limit=65536):
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def serves_on(srv):
    """The worker still answers a good client."""
    s = tls_connect(srv.port)
    s.sendall(b"still there\nquit\n")
    check(recv_line(s) == b"STILL THERE\n", "the worker serves on")
    check(recv_line(s) == b"bye\n")
    s.close()


def until_closed(s, limit):
    """Reads until the peer closes or resets; (bytes read, seconds)."""
    t0 = time.monotonic()
    s.settimeout(limit)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("still open after %g s" % limit)
    return got, time.monotonic() - t0


def client_hello(name="localhost"):
    """The bytes of a real ClientHello (Python's ssl over memory)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context().wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class MemTls:
    """A TLS client over a plain socket through memory BIOs, so a test can
    send part of a record and then reset."""

    def __init__(self, port):
        self.sock = connect(port)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = client_context().wrap_bio(self.inc, self.out, server_hostname="localhost")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.out.read())
                data = self.sock.recv(65536)
                check(data, "handshake cut")
                self.inc.write(data)
        self.sock.sendall(self.out.read())

    def seal(self, data):
        """The ciphertext records of data (not sent)."""
        self.obj.write(data)
        return self.out.read()

    def reset(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


# ---- real clients -------------------------------------------------------------


def s_client(port, args, stdin, timeout=20):
    if not shutil.which("openssl"):
        skip("no openssl command")
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", cert("ca.pem"),
           "-verify_return_error", "-ign_eof"] + args
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout * slow())
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


@test
def tls_lines_driven_by_openssl_s_client():
    with TlsServer() as srv:
        code, out, err = s_client(srv.port, ["-verify_hostname", "localhost"],
                                  b"hello\ntls lines\ninfo\nquit\n")
        check(code == 0, "s_client exit %d: %s" % (code, err))
        check("Verification: OK" in out, out)
        check("HELLO\nTLS LINES\nTLSv1.3 alpn=- sni=-\nbye\n" in out.replace("\r", ""), out)
        serves_on(srv)
        srv.stop()


@test
def tls_echo_driven_by_openssl_s_client():
    with TlsServer() as srv:
        # The echo never ends by itself: read what comes back, then stop.
        p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                              "-CAfile", cert("ca.pem"), "-verify_return_error", "-quiet"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            lines = [b"echo\n"] + [b"line %d of the echo\n" % i for i in range(100)]
            p.stdin.write(b"".join(lines))
            p.stdin.flush()
            got = [p.stdout.readline() for _ in lines[1:]]
            check(got == lines[1:], "echoed: %r" % got[:3])
        finally:
            p.kill()
            p.wait()
        serves_on(srv)
        srv.stop()


@test
def alpn_and_sni_seen_by_openssl_s_client():
    with TlsServer() as srv:
        # The server's preference wins: it lists h2 first.
        code, out, err = s_client(srv.port, ["-servername", "a.example", "-verify_hostname",
                                             "a.example", "-alpn", "http/1.1,h2"],
                                  b"info\nquit\n")
        check(code == 0, err)
        check("ALPN protocol: h2" in out, out)
        check(re.search(r"subject=.*CN = a\.example", out), out)
        check("TLSv1.3 alpn=h2 sni=a.example" in out, out)
        code, out, err = s_client(srv.port, ["-servername", "b.example", "-verify_hostname",
                                             "b.example", "-alpn", "http/1.1"],
                                  b"info\nquit\n")
        check(code == 0, err)
        check("ALPN protocol: http/1.1" in out, out)
        check(re.search(r"subject=.*CN = b\.example", out), out)
        # An unknown name gets the default certificate.
        code, out, err = s_client(srv.port, ["-servername", "zzz.example"], b"quit\n")
        check(code == 0 and re.search(r"subject=.*CN = localhost", out), out + err)
        srv.stop()


@test
def tls_echo_and_lines_from_python_ssl():
    with TlsServer() as srv:
        s = tls_connect(srv.port)
        check(s.version() == "TLSv1.3", s.version())
        s.sendall(b"echo\n")
        payload = os.urandom(1 << 20)
        got = duplex(s, payload, (1, 100, 16384, 16385, 65536), 20 * slow())
        same_bytes(got, payload, "1 MiB echoed")
        s.close()
        s = tls_connect(srv.port)
        s.sendall(b"one\ntwo\ninfo\nquit\n")
        for want in (b"ONE\n", b"TWO\n", b"TLSv1.3 alpn=- sni=localhost\n", b"bye\n"):
            check(recv_line(s) == want, want)
        check(s.recv(10) == b"", "closed after quit")
        s.close()
        srv.stop()


@test
def alpn_and_sni_seen_by_python_ssl():
    with TlsServer() as srv:
        s = tls_connect(srv.port, name="b.example", alpn=["http/1.1", "h2"])
        check(s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol())
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        check(subject["commonName"] == "b.example", subject)
        s.sendall(b"info\nquit\n")
        check(recv_line(s) == b"TLSv1.3 alpn=h2 sni=b.example\n")
        s.close()
        # A client offering only protocols the server does not have is
        # refused (RFC 7301: no_application_protocol); one offering none
        # is served without.
        try:
            tls_connect(srv.port, alpn=["x-unknown"]).close()
            check(False, "handshake without a common protocol succeeded")
        except ssl.SSLError as e:
            check("no application protocol" in str(e), str(e))
        s = tls_connect(srv.port)
        check(s.selected_alpn_protocol() is None, s.selected_alpn_protocol())
        s.close()
        # TLS 1.2 is on by default.
        ctx = client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        s = ctx.wrap_socket(connect(srv.port), server_hostname="localhost")
        check(s.version() == "TLSv1.2", s.version())
        s.sendall(b"info\nquit\n")
        check(recv_line(s).startswith(b"TLSv1.2 "))
        s.close()
        serves_on(srv)
        srv.stop()


def curl(args, timeout=20):
    if not shutil.which("curl"):
        skip("no curl")
    p = subprocess.run(["curl", "-sS", "-v", "--http1.1", "--max-time", str(10 * slow())] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * slow())
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


@test
def http_over_tls_driven_by_curl():
    with TlsServer() as srv:
        code, out, err = curl(["--cacert", cert("ca.pem"),
                               "https://localhost:%d/hello" % srv.port])
        check(code == 0, "curl exit %d: %s" % (code, err))
        check(out == "GET /hello over TLSv1.3 alpn=http/1.1 sni=localhost\n", out)
        check("ALPN: server accepted http/1.1" in err, err)
        # SNI picks a.example's certificate, which curl verifies by name.
        code, out, err = curl(["--cacert", cert("ca.pem"), "--resolve",
                               "a.example:%d:127.0.0.1" % srv.port,
                               "-d", "x=1", "https://a.example:%d/post" % srv.port])
        check(code == 0, "curl exit %d: %s" % (code, err))
        check(out == "POST /post over TLSv1.3 alpn=http/1.1 sni=a.example\n", out)
        # TLS 1.2 too.
        code, out, err = curl(["--cacert", cert("ca.pem"), "--tls-max", "1.2",
                               "https://localhost:%d/12" % srv.port])
        check(code == 0 and out.startswith("GET /12 over TLSv1.2 "), out + err)
        # curl trusts only its system store without --cacert: our CA is not in it.
        code, out, err = curl(["https://localhost:%d/" % srv.port])
        check(code == 60, "curl exit %d, expected 60 (peer certificate): %s" % (code, err))
        serves_on(srv)
        srv.stop()


# ---- host.connect with TLS to openssl s_server ----------------------------------

CLIENT = r"""
local host = require "host"
local certs, port, expired = ...
local function f(n) return certs .. "/" .. n end
local function try(label, addr, opts)
  local c, err, detail = host.connect(addr, opts)
  if not c then
    return print(label, "nil", err, detail)
  end
  c:send("hello tls\n")
  local line, rerr = c:read("l")
  local t = c.tls
  print(label, line or rerr, t.version, t.alpn or "-", t.peer or "-",
        tostring(t.verified))
  c:close()
end
local ca = f("ca.pem")
try("good", "127.0.0.1:" .. port, { tls = { ca = ca, alpn = { "x-none", "http/1.1" } } })
try("byname", "localhost:" .. port, { timeout = 5, tls = { ca = ca } })
try("sni", "127.0.0.1:" .. port, { tls = { ca = ca, servername = "a.example" } })
try("wrongname", "127.0.0.1:" .. port, { tls = { ca = ca, servername = "wrong.example" } })
try("unknownca", "127.0.0.1:" .. port, { tls = true })
try("noverify", "127.0.0.1:" .. port, { tls = { verify = false } })
try("expired", "127.0.0.1:" .. expired, { tls = { ca = ca } })
try("expirednoverify", "localhost:" .. expired, { tls = { ca = ca, verify = false } })
"""


class SServer:
    """openssl s_server on a loopback port: lines come back reversed
    (-rev); a.example's certificate for that SNI name; ALPN."""

    def __init__(self, name="server"):
        if not shutil.which("openssl"):
            skip("no openssl command")
        self.port = free_port()
        self.logpath = os.path.join(SCRATCH, "s_server-%d.log" % self.port)
        self.log = open(self.logpath, "wb")
        self.p = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % self.port,
             "-cert", cert(name + ".pem"), "-key", cert(name + ".key"),
             "-servername", "a.example", "-cert2", cert("a.pem"), "-key2", cert("a.key"),
             "-alpn", "h2,http/1.1", "-rev"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "ACCEPT" not in self.text():
            check(time.monotonic() < deadline and self.p.poll() is None,
                  "s_server did not start: " + self.text())
            time.sleep(0.02)

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        self.p.kill()
        self.p.wait()
        self.log.close()


@test
def host_connect_with_tls_to_openssl_s_server():
    good, expired = SServer(), None
    try:
        expired = SServer("expired")
        path = script("tls_client.lua", CLIENT)
        h = Host(["--workers", "1", path, certs(), str(good.port), str(expired.port)])
        code = h.wait(60 * slow())
        out = h.stdout().replace("\r", "")
        err = h.stderr()
        h.close()
        check(code == 0, "exit %r: %s" % (code, err))
        got = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
        check(got.get("good") == "slt olleh\tTLSv1.3\thttp/1.1\tCN=localhost,O=host test\ttrue", out)
        check(got.get("byname", "").startswith("slt olleh\tTLSv1.3\t-\tCN=localhost"), out)
        check(got.get("sni", "").startswith("slt olleh\tTLSv1.3\t-\tCN=a.example"), out)
        check(re.match(r"nil\ttls\t.*hostname mismatch", got.get("wrongname", "")), out)
        # The default trust store (Debian's, or Windows' ROOT store in
        # host.exe) does not have our CA.
        check(re.match(r"nil\ttls\tcertificate verify failed", got.get("unknownca", "")), out)
        check(got.get("noverify", "").endswith("\tfalse"), out)
        check(re.match(r"nil\ttls\tcertificate verify failed: certificate has expired",
                       got.get("expired", "")), out)
        check(got.get("expirednoverify", "").startswith("slt olleh"), out)
    finally:
        good.close()
        if expired:
            expired.close()


# ---- bad input ------------------------------------------------------------------


@test
def plain_text_to_a_tls_port():
    with TlsServer() as srv:
        s = connect(srv.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got, secs = until_closed(s, 5 * slow())
        s.close()
        check(b"HTTP" not in got, "no plain answer: %r" % got)
        check(secs < 3 * slow(), "closed at once, not at a deadline (%.1f s)" % secs)
        check(srv.h.wait_log(r"DEBUG \[w1\] TLS handshake failed \(peer 127\.0\.0\.1:\d+\): "
                             r"(http request|wrong version number|packet length too long)"),
              srv.h.stderr())
        s = connect(srv.port)
        s.sendall(os.urandom(4096))
        until_closed(s, 5 * slow())
        s.close()
        serves_on(srv)
        err = srv.stop()
        check("no first line" not in err, "the handler never ran")


@test
def truncated_handshakes():
    hello = client_hello()
    with TlsServer() as srv:
        # Half a ClientHello, then the end of the stream.
        s = connect(srv.port)
        s.sendall(hello[:len(hello) // 2])
        s.shutdown(socket.SHUT_WR)
        got, secs = until_closed(s, 5 * slow())
        s.close()
        check(secs < 3 * slow(), "closed at once (%.1f s)" % secs)
        check(srv.h.wait_log(r"TLS handshake failed .*unexpected eof"), srv.h.stderr())
        # A whole ClientHello, the server's flight read, then a close.
        s = connect(srv.port)
        s.sendall(hello)
        check(len(s.recv(65536)) > 100, "the server answered the ClientHello")
        s.close()
        # Garbage in place of the client's second flight.
        s = connect(srv.port)
        s.sendall(hello)
        s.recv(65536)
        s.sendall(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)
        got, secs = until_closed(s, 5 * slow())
        s.close()
        check(secs < 3 * slow(), "closed at once (%.1f s)" % secs)
        serves_on(srv)
        srv.stop()


@test
def a_peer_that_stalls_mid_handshake_is_cut():
    hello = client_hello()
    with TlsServer() as srv:
        stalls = []
        for part in (b"", hello[:40], hello):  # nothing, some, all of it
            s = connect(srv.short)
            if part:
                s.sendall(part)
            stalls.append(s)
        t0 = time.monotonic()
        for s in stalls:
            until_closed(s, 10 * slow())
            s.close()
        secs = time.monotonic() - t0
        check(0.8 <= secs < 3 * slow(), "cut at the 1 s deadline, not %.2f s" % secs)
        check(srv.h.wait_log(r"TLS handshake failed .*handshake timed out"), srv.h.stderr())
        serves_on(srv)
        srv.stop()


SILENT_CLIENT = r"""
local host = require "host"
local silent, full = ...
local function try(label, addr, opts)
  local t0 = host.now()
  local c, err, detail = host.connect(addr, opts)
  print(label, tostring(c), err, detail or "-", string.format("%.2f", host.now() - t0))
end
host.spawn(try, "handshake", "127.0.0.1:" .. silent, { tls = { verify = false } })
host.spawn(try, "connect", "127.0.0.1:" .. full)
"""


def full_backlog():
    """A listener whose backlog is full: the kernel drops further SYNs, so
    a connect to it hangs.  Returns (listener, fillers)."""
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(full.getsockname())
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    return full, fillers


@test
def default_deadlines_are_10_s():
    # Server side: a peer that sends half a ClientHello and waits.  Client
    # side, at the same time: host.connect with TLS to a peer that accepts
    # and never answers, and host.connect with no timeout to a listener
    # that drops SYNs.  All give up at the default 10 s; the worker serves
    # meanwhile.
    hello = client_hello()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    full, fillers = full_backlog()
    with TlsServer() as srv:
        stalled = connect(srv.port)
        stalled.sendall(hello[:40])
        t0 = time.monotonic()
        client = Host(["--workers", "1", script("silent.lua", SILENT_CLIENT),
                       str(silent.getsockname()[1]), str(full.getsockname()[1])])
        try:
            peer, _ = silent.accept()
            serves_on(srv)
            _, secs = until_closed(stalled, 15 * slow())
            check(9.5 <= secs <= 11.5 * slow(), "server cut the stall after %.2f s" % secs)
            check(client.wait(20 * slow()) == 0, client.stderr())
            out = client.stdout().replace("\r", "")
            got = dict((line.split("\t")[0], line.split("\t")[1:])
                       for line in out.splitlines() if "\t" in line)
            hs, conn = got.get("handshake", []), got.get("connect", [])
            check(hs[:3] == ["nil", "timeout", "handshake timed out"], out)
            check(9.5 <= float(hs[3]) <= 11.5 * slow(), "TLS client gave up after %s s" % hs[3])
            check(conn[:2] == ["nil", "timeout"], out)
            check(9.5 <= float(conn[3]) <= 11.5 * slow(), "connect gave up after %s s" % conn[3])
            peer.close()
        finally:
            client.close()
            silent.close()
            stalled.close()
            full.close()
            for f in fillers:
                f.close()
        serves_on(srv)
        srv.stop()
    check(time.monotonic() - t0 < 14 * slow())


LINGER_CLIENT = r"""
local host = require "host"
local plain, tls, certs = ...
local p = assert(host.connect("127.0.0.1:" .. plain, { timeout = 30 }))
p:send("hi\n")
local t = assert(host.connect("localhost:" .. tls, { timeout = 30,
  tls = { ca = certs .. "/ca.pem" } }))
t:send("hello\n")
print(p:read("l"), t:read("l"))
-- ends without closing either: nothing is left to wait for
"""


@test
def a_script_that_connected_exits_at_once():
    # The connect's and the handshake's deadlines (30 s, 10 s) are over
    # once they complete: their timers must not keep the host up.
    s_server = SServer()
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(1)
    try:
        h = Host(["--workers", "1", script("linger.lua", LINGER_CLIENT),
                  str(plain.getsockname()[1]), str(s_server.port), certs()])
        peer, _ = plain.accept()
        peer.settimeout(10 * slow())
        check(peer.recv(3) == b"hi\n")
        peer.sendall(b"there\n")
        t0 = time.monotonic()
        code = h.wait(20 * slow())
        out = h.stdout().replace("\r", "").strip()
        h.close()
        check(code == 0 and out == "there\tolleh", "exit %r, %r" % (code, out))
        check(time.monotonic() - t0 < 3 * slow(),
              "exited %.1f s after its last read" % (time.monotonic() - t0))
        peer.close()
    finally:
        plain.close()
        s_server.close()


@test
def a_reset_mid_record():
    with TlsServer() as srv:
        # The client resets halfway through a record it is sending.
        c = MemTls(srv.port)
        c.sock.sendall(c.seal(b"echo\n"))
        record = c.seal(os.urandom(16384))
        c.sock.sendall(record[:len(record) // 2])
        time.sleep(0.1)
        c.reset()
        check(srv.h.wait_log(r"echo ended: (reset|closed|tls)"), srv.h.stderr())
        # The client resets while the host sends it 16 MiB.
        c = MemTls(srv.port)
        size = 16 << 20
        c.sock.sendall(c.seal(b"big %d\n" % size))
        c.sock.sendall(c.seal(b"r" * size))
        got = 0
        while got < 100000:
            got += len(c.sock.recv(65536))
        c.reset()
        check(srv.h.wait_log(r"big send failed: (reset|closed)", 20 * slow()), srv.h.stderr())
        serves_on(srv)
        srv.stop()


@test
def a_16_mib_message_in_pieces():
    with TlsServer() as srv:
        size = 16 << 20
        payload = os.urandom(size)
        s = tls_connect(srv.port)
        s.sendall(b"big %d\n" % size)

        # Uneven pieces, some tiny, some larger than a record, with pauses:
        # the host must put one message together from them all (it reads
        # the whole message before it answers, so the client can send it
        # all first).
        i, k, t0 = 0, 0, time.monotonic()
        sizes = (1, 7, 100, 1500, 16384, 16385, 65536, 300000)
        while i < size:
            n = sizes[k % len(sizes)]
            s.sendall(payload[i:i + n])
            i += n
            k += 1
            if k % 97 == 0:
                time.sleep(0.001)
        t_sent = time.monotonic()
        s.settimeout(60 * slow())
        got = recv_all(s, size)
        print("# 16 MiB sent in %.1f s, back in %.1f s" % (t_sent - t0, time.monotonic() - t_sent))
        same_bytes(got, payload, "16 MiB back")
        check(s.recv(10) == b"", "then closed")
        s.close()
        check(srv.h.wait_log(r"big sent %d" % size), srv.h.stderr())
        serves_on(srv)
        srv.stop()
