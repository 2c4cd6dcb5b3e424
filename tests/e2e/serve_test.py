"""Serving: examples answer real clients, listeners, workers, handler errors."""
import re
import socket
import time

from harness import (test, check, Host, script, free_port, connect, recv_exactly,
                     recv_line, example, skip)
import harness


@test
def echo_example_answers_a_client():
    port = free_port()
    with Host(["--workers", "2", "--listen", "127.0.0.1:%d" % port, example("echo.lua")]) as h:
        s = connect(port)
        s.sendall(b"hello, host")
        check(recv_exactly(s, 11) == b"hello, host")
        payload = bytes(range(256)) * 4096
        s.sendall(payload)
        check(recv_exactly(s, len(payload)) == payload, "1 MiB echoed intact")
        s.close()


@test
def default_listen_address_is_127_0_0_1_4567():
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 4567))
    except OSError:
        skip("port 4567 is taken on this machine")
    probe.close()
    with Host(["--workers", "1", example("echo.lua")]) as h:
        s = connect(4567)
        s.sendall(b"x")
        check(recv_exactly(s, 1) == b"x")
        s.close()


@test
def several_listen_addresses():
    p1, p2 = free_port(), free_port()
    with Host(["--listen", "127.0.0.1:%d" % p1, "--listen", "127.0.0.1:%d" % p2,
               example("echo.lua")]) as h:
        for p in (p1, p2):
            s = connect(p)
            s.sendall(b"ping")
            check(recv_exactly(s, 4) == b"ping")
            s.close()


@test
def connections_spread_across_workers():
    port = free_port()
    path = script("whoami.lua", "local host = require 'host'\n"
                  "return function(conn) conn:send(host.worker, '\\n') end\n")
    with Host(["--workers", "2", "--listen", "127.0.0.1:%d" % port, path]) as h:
        seen = {}
        for _ in range(60):
            s = connect(port)
            w = recv_line(s).strip()
            seen[w] = seen.get(w, 0) + 1
            s.close()
        check(set(seen) == {b"1", b"2"}, "both workers served: %r" % seen)
        print("# spread over 60 connections: %r" % {k.decode(): v for k, v in seen.items()})


@test
def handler_error_is_logged_with_traceback_worker_and_peer():
    port = free_port()
    path = script("raiser.lua", "return function(conn)\n"
                  "  local line = conn:read('l')\n"
                  "  if line == 'boom' then error('bad request: ' .. line) end\n"
                  "  conn:send('ok\\n')\n"
                  "end\n")
    with Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port, path]) as h:
        s = connect(port)
        local_port = s.getsockname()[1]
        s.sendall(b"boom\n")
        check(s.recv(10) == b"", "the failing connection is closed")
        s.close()
        check(h.wait_log(r"ERROR \[w1\] handler error \(peer 127\.0\.0\.1:%d\): .*raiser\.lua:3: bad request: boom" % local_port), h.stderr())
        check("stack traceback" in h.stderr(), h.stderr())
        s = connect(port)
        s.sendall(b"fine\n")
        check(recv_line(s) == b"ok\n", "the host still serves")
        s.close()


@test
def lines_example_over_a_real_socket():
    port = free_port()
    with Host(["--listen", "127.0.0.1:%d" % port, example("lines.lua")]) as h:
        s = connect(port)
        s.sendall(b"PING\r\nECHO hi\r\nQUIT\r\n")
        check(recv_line(s) == b"PONG\r\n")
        check(recv_line(s) == b"hi\r\n")
        check(recv_line(s) == b"BYE\r\n")
        check(s.recv(10) == b"")
        s.close()


@test
def proxy_example_relays_to_an_upstream():
    up, port = free_port(), free_port()
    # Left in reverse order: the proxy is closed first, then the upstream.
    with Host(["--listen", "127.0.0.1:%d" % up, example("echo.lua")]) as upstream, \
         Host(["--listen", "127.0.0.1:%d" % port, example("proxy.lua"), "127.0.0.1:%d" % up]) as proxy:
        connect(up).close()
        s = connect(port)
        s.sendall(b"via proxy")
        check(recv_exactly(s, 9) == b"via proxy")
        s.shutdown(socket.SHUT_WR)
        check(s.recv(10) == b"", "half-close travels through")
        s.close()


@test
def connect_timeout_returns_timeout():
    # A listener with a full backlog drops SYNs: connects hang.
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    port = full.getsockname()[1]
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    path = script("ctimeout.lua", "local host = require 'host'\n"
                  "host.spawn(function()\n"
                  "  local t0 = host.now()\n"
                  "  local c, err = host.connect('127.0.0.1:%d', 0.3)\n"
                  "  print(c, err, host.now() - t0 < 2)\n"
                  "end)\n" % port)
    code, out, err = harness.run(["--workers", "1", path])
    for f in fillers:
        f.close()
    full.close()
    check(code == 0, "exit %r: %s" % (code, err))
    check(out.strip() == "nil\ttimeout\ttrue", repr(out))
