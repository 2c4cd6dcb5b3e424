"""Reloading the script (SIGHUP; `host --reload PID|FILE`, the way on
Windows) without refusing or cutting a connection, and stopping without
waiting out the grace for connections that sit between two exchanges."""
import os
import signal
import socket
import time

from harness import (Host, check, connect, free_port, recv_line, script, skip,
                     test)
import harness

# A keep-alive line protocol: each line gets "<version> <line>"; "slow"
# makes the answer wait 0.6 s (an exchange in progress); "stop?" answers
# host.stopping().
SERVER = """local host = require 'host'
local version = %r
return function(conn)
  while true do
    local line = conn:read('l')
    if not line then return end
    if line == 'slow' then host.sleep(0.6) end
    if line == 'stuck' then host.sleep(60) end
    if line == 'stop?' then line = tostring(host.stopping()) end
    if line == 'wait' then
      while not host.stopping() do host.sleep(0.02) end
      line = 'told'
    end
    conn:send(version, ' ', line, '\\n')
  end
end
"""


def write(path, version, extra=""):
    with open(path, "w") as f:
        f.write(extra + SERVER % version)


def ask(s, line):
    s.sendall(line.encode() + b"\n")
    return recv_line(s).decode().rstrip("\n")


def stop_signal():
    return signal.SIGINT if harness.WINE else signal.SIGTERM


def reload(h, pidfile, n=1):
    """Reloads, the Unix way or the Windows way; waits for every worker
    to say so (n workers) or for the failure line."""
    before = h.stderr().count("reloaded ") + h.stderr().count("reload failed")
    if harness.WINE:
        r = harness.run(["--reload", pidfile], backend=False, timeout=30)
        check(r[0] == 0, "host --reload: %r" % (r,))
    else:
        h.signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = h.stderr()
        if text.count("reloaded ") + text.count("reload failed") >= before + n:
            return
        time.sleep(0.02)
    raise AssertionError("no reload logged:\n" + h.stderr())


def start(version, workers=1, grace=5, extra_args=()):
    port = free_port()
    path = script("reload-%d.lua" % port, "")
    write(path, version)
    pidfile = path + ".pid"
    h = Host(["--listen", "127.0.0.1:%d" % port, "--workers", str(workers),
              "--grace", str(grace), "--pid-file", pidfile] + list(extra_args) + [path])
    return h, port, path, pidfile


@test
def stop_closes_idle_keepalive_connections_at_once():
    h, port, path, _ = start("v1", grace=5)
    try:
        idle = [connect(port) for _ in range(3)]
        for s in idle:
            check(ask(s, "hi") == "v1 hi")
        busy = connect(port)
        busy.sendall(b"slow\n")
        time.sleep(0.1)
        t0 = time.monotonic()
        h.signal(stop_signal())
        for s in idle:  # end of stream at once, not after the grace
            s.settimeout(2)
            check(s.recv(10) == b"", "an idle connection closed")
        check(time.monotonic() - t0 < 1, "idle ones closed at once")
        # The exchange in progress finishes, then its next read ends.
        check(recv_line(busy) == b"v1 slow\n")
        check(h.wait(10) == 0)
        took = time.monotonic() - t0
        check(took < 2, "exited in %.2f s, not after the 5 s grace" % took)
    finally:
        h.close()


@test
def stop_gives_the_grace_to_a_half_read_request():
    h, port, path, _ = start("v1", grace=1)
    try:
        s = connect(port)
        check(ask(s, "a") == "v1 a")
        s.sendall(b"par")  # a line begun, not finished
        time.sleep(0.1)
        t0 = time.monotonic()
        h.signal(stop_signal())
        time.sleep(0.3)
        s.sendall(b"tial\n")
        check(recv_line(s) == b"v1 partial\n", "the exchange finished")
        check(h.wait(10) == 0)
        check(time.monotonic() - t0 < 2)
    finally:
        h.close()


@test
def sighup_reloads_new_connections_get_the_new_script():
    h, port, path, pidfile = start("v1", workers=2)
    try:
        old = connect(port)
        check(ask(old, "x") == "v1 x")
        busy = connect(port)
        busy.sendall(b"slow\n")
        waiting = connect(port)
        waiting.sendall(b"wait\n")
        time.sleep(0.05)
        write(path, "v2")
        reload(h, pidfile, n=2)
        # host.stopping() turns true in the old script.
        check(recv_line(waiting) == b"v1 told\n")
        # The exchange in progress ends under the old script...
        check(recv_line(busy) == b"v1 slow\n")
        # ...and the idle one was closed: its client reconnects.
        old.settimeout(2)
        check(old.recv(10) == b"", "an idle old connection is closed")
        for _ in range(6):
            s = connect(port)
            check(ask(s, "y") == "v2 y")
            check(ask(s, "stop?") == "v2 false")
            s.close()
        check(h.proc.poll() is None, "still running")
        h.signal(stop_signal())
        check(h.wait(10) == 0)
        check(not os.path.exists(pidfile), "the pid file is removed at exit")
    finally:
        h.close()


@test
def a_script_that_fails_to_load_leaves_the_old_one_serving():
    h, port, path, pidfile = start("v1")
    try:
        s = connect(port)
        check(ask(s, "a") == "v1 a")
        with open(path, "w") as f:
            f.write("return function(conn)\n  this is not lua\nend\n")
        reload(h, pidfile)
        check("reload failed" in h.stderr(), h.stderr())
        check(os.path.basename(path) + ":2:" in h.stderr(), "file:line in:\n" + h.stderr())
        check(ask(s, "b") == "v1 b", "the old connection is untouched")
        s2 = connect(port)
        check(ask(s2, "c") == "v1 c", "new connections: the old script")
        # A main chunk that raises after listening: the same.
        write(path, "v3", extra="require 'host'.listen('127.0.0.1:0', function() end)\n"
                                "error('boom')\n")
        reload(h, pidfile)
        check("boom" in h.stderr(), h.stderr())
        check(ask(connect(port), "d") == "v1 d")
        # Then a good one.
        write(path, "v4")
        reload(h, pidfile)
        check(ask(connect(port), "e") == "v4 e")
        h.signal(stop_signal())
        check(h.wait(10) == 0)
    finally:
        h.close()


@test
def reload_moves_listeners_closes_dropped_ones():
    port, other = free_port(), free_port()
    path = script("multi-%d.lua" % port, "")
    pidfile = path + ".pid"

    def listening(version, ports):
        with open(path, "w") as f:
            f.write("local host = require 'host'\n")
            for p in ports:
                f.write("host.listen('127.0.0.1:%d', function(conn)\n"
                        "  conn:send('%s %d\\n')\nend)\n" % (p, version, p))

    listening("v1", [port])
    h = Host(["--workers", "1", "--pid-file", pidfile, path])
    try:
        check(recv_line(connect(port)) == b"v1 %d\n" % port)
        listening("v2", [port, other])
        reload(h, pidfile)
        check(recv_line(connect(port)) == b"v2 %d\n" % port)
        check(recv_line(connect(other)) == b"v2 %d\n" % other)
        listening("v3", [other])
        reload(h, pidfile)
        check(recv_line(connect(other)) == b"v3 %d\n" % other)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            refused = True
        check(refused, "the address the new script dropped is closed")
        h.signal(stop_signal())
        check(h.wait(10) == 0)
    finally:
        h.close()


@test
def the_old_script_gets_the_grace_then_is_cut():
    h, port, path, pidfile = start("v1", grace=0.5)
    try:
        s = connect(port)
        s.sendall(b"stuck\n")
        time.sleep(0.1)
        write(path, "v2")
        reload(h, pidfile)
        check(ask(connect(port), "n") == "v2 n")
        s.settimeout(5)
        check(s.recv(10) == b"", "cut at the end of the grace")
        check(h.wait_log("grace period over, closed 1 task"), h.stderr())
        check(ask(connect(port), "m") == "v2 m")
        h.signal(stop_signal())
        check(h.wait(10) == 0)
    finally:
        h.close()


# Memory: "hold" keeps 20 MiB in a string while its exchange lasts (the
# old script drains it after a reload); "grab" tries to take 20 MiB and
# says whether the worker's limit let it.
MEMORY = """local host = require 'host'
local version = %r
return function(conn)
  while true do
    local line = conn:read('l')
    if not line then return end
    if line == 'hold' then
      local big = string.rep('x', 20 * 1024 * 1024)
      conn:send(version, ' held\\n')
      host.sleep(4)
      line = 'released ' .. #big // (1024 * 1024)
    elseif line == 'grab' then
      local ok, big = pcall(string.rep, 'y', 20 * 1024 * 1024)
      line = ok and ('got ' .. #big // (1024 * 1024)) or 'refused'
      big = nil
      collectgarbage()
    end
    conn:send(version, ' ', line, '\\n')
  end
end
"""


@test
def the_memory_limit_covers_the_old_script_while_it_drains():
    port = free_port()
    path = script("reload-mem-%d.lua" % port, MEMORY % "v1")
    pidfile = path + ".pid"
    h = Host(["--listen", "127.0.0.1:%d" % port, "--workers", "1",
              "--grace", "10", "--memory-limit", "48", "--pid-file", pidfile,
              path])
    try:
        check(ask(connect(port), "grab") == "v1 got 20", "20 MiB fit alone")
        holder = connect(port)
        holder.sendall(b"hold\n")
        check(recv_line(holder) == b"v1 held\n")
        with open(path, "w") as f:
            f.write(MEMORY % "v2")
        reload(h, pidfile)
        # The old script still holds its 20 MiB; string.rep needs twice what
        # it makes for a moment (a buffer, then the string): 60 MiB in 48.
        check(ask(connect(port), "grab") == "v2 refused",
              "the new script is refused what the old one holds")
        holder.settimeout(10)
        check(recv_line(holder) == b"v1 released 20\n")
        holder.close()
        deadline = time.monotonic() + 10
        answer = None
        while time.monotonic() < deadline:
            answer = ask(connect(port), "grab")
            if answer == "v2 got 20":
                break
            time.sleep(0.1)
        check(answer == "v2 got 20", "once the old script is gone: %r" % answer)
        h.signal(stop_signal())
        check(h.wait(10) == 0)
    finally:
        h.close()


@test
def reload_of_a_pid_that_is_not_a_host_fails():
    code, out, err = harness.run(["--reload", "999999999"], backend=False)
    check(code == 1, "exit %r: %s" % (code, err))
    path = script("nopid.txt", "garbage\n")
    code, out, err = harness.run(["--reload", path], backend=False)
    check(code == 1 and "no process id" in err, err)


@test
def a_reload_puts_a_new_certificate_in_service():
    """The usual reason to reload a TLS server: a renewed certificate.
    The socket stays; new handshakes get the new certificate."""
    import ssl
    certs = os.environ.get("HOST_TEST_CERTS")
    if not certs:
        skip("HOST_TEST_CERTS not set")
    port = free_port()
    path = script("tls-reload-%d.lua" % port, "")
    pidfile = path + ".pid"

    def serve(name):
        with open(path, "w") as f:
            f.write("local host = require 'host'\n"
                    "host.listen('127.0.0.1:%d', function(conn)\n"
                    "  conn:send('hi\\n')\n"
                    "end, {tls = {cert = %r, key = %r}})\n"
                    % (port, os.path.join(certs, name + ".pem"), os.path.join(certs, name + ".key")))

    def peer_cert():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with connect(port) as raw, ctx.wrap_socket(raw) as s:
            der = s.getpeercert(binary_form=True)
            s.recv(10)
        return ssl.DER_cert_to_PEM_cert(der)

    def pem(name):
        with open(os.path.join(certs, name + ".pem")) as f:
            text = f.read()
        first = text.index("-----BEGIN CERTIFICATE-----")
        return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(text[first:]))

    serve("server")
    h = Host(["--workers", "1", "--pid-file", pidfile, path])
    try:
        check(h.wait_log("listening on 127.0.0.1:%d" % port), h.stderr())
        deadline = time.monotonic() + 10
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.02)
        check(peer_cert() == pem("server"))
        serve("a")
        reload(h, pidfile)
        check(peer_cert() == pem("a"), "the new certificate is served")
        h.signal(stop_signal())
        check(h.wait(10) == 0)
    finally:
        h.close()


@test
def the_old_scripts_receivers_end_and_mail_goes_to_the_new_one():
    port = free_port()
    path = script("mail-%d.lua" % port, "")
    pidfile = path + ".pid"

    def serve(version):
        with open(path, "w") as f:
            f.write("""local host = require 'host'
host.spawn(function()
  while true do
    local from, what = host.receive()
    if not from then host.log('info', '%s receive ended: ' .. what) return end
    host.log('info', '%s got ' .. tostring(what))
  end
end)
host.listen('127.0.0.1:%d', function(conn)
  local line = conn:read('l')
  host.post(host.worker, line)
  conn:send('%s\\n')
end)
""" % (version, version, port, version))

    serve("v1")
    h = Host(["--workers", "1", "--grace", "5", "--pid-file", pidfile, path])
    try:
        check(h.wait_log("listening on 127.0.0.1:%d" % port), h.stderr())
        s = connect(port)
        s.sendall(b"one\n")
        check(recv_line(s) == b"v1\n")
        check(h.wait_log("v1 got one"), h.stderr())
        serve("v2")
        reload(h, pidfile)
        check(h.wait_log("v1 receive ended: closed"), h.stderr())
        s = connect(port)
        s.sendall(b"two\n")
        check(recv_line(s) == b"v2\n")
        check(h.wait_log("v2 got two"), h.stderr())
        check("grace period over" not in h.stderr(), h.stderr())
        h.signal(stop_signal())
        check(h.wait(10) == 0)
        check("v2 receive ended: closed" in h.stderr(), h.stderr())
    finally:
        h.close()
