"""Several workers on one address: who accepts, and what happens when one
of them stops listening.

On Linux each worker has its own SO_REUSEPORT socket; on Windows (and on
Linux with HOST_ACCEPT_HANDOFF=1) one worker accepts and hands each
connection to the next worker in turn (src/host/group.h).  These tests
hold for both.
"""
import signal
import socket
import time

from harness import test, check, Host, script, free_port, connect, recv_line

WHOAMI = """local host = require 'host'
local closer, served = tonumber(arg[2]), 0
local l
l = assert(host.listen(arg[1], function(conn)
  served = served + 1
  if host.worker == closer and served == %d and l then l:close() end
  conn:send(host.worker, '\\n')
end))
"""


def served_by(port, n):
    """Worker ids that answered n connections, one after another."""
    seen = []
    for _ in range(n):
        s = connect(port)
        seen.append(recv_line(s).strip())
        s.close()
    return seen


def stop(h):
    """SIGINT (Ctrl-C under Wine); the host must exit 0, cleanly."""
    h.signal(signal.SIGINT)
    code = h.wait(15)
    check(code == 0, "exit %r: %s" % (code, h.stderr()))
    check("ERROR" not in h.stderr(), h.stderr())


@test
def a_worker_that_closes_its_listener_leaves_the_others_serving():
    # Once with each worker closing: with hand-off one of them is the
    # accepting owner, whose leaving makes the other listen anew.
    for closer in (1, 2):
        port = free_port()
        path = script("closer%d.lua" % closer, WHOAMI % 1)
        with Host(["--workers", "2", path, "127.0.0.1:%d" % port, str(closer)]) as h:
            check(h.wait_log(r"\[w2\] listening") and h.wait_log(r"\[w1\] listening"),
                  h.stderr())
            # Until the closer has served one connection, both serve.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if str(closer).encode() in served_by(port, 1):
                    break
            other = b"2" if closer == 1 else b"1"
            time.sleep(0.2)
            seen = served_by(port, 20)
            check(seen == [other] * 20, "closer %d: %r" % (closer, seen))
            stop(h)


@test
def connections_meant_for_a_closing_worker_are_closed_not_lost():
    # Worker 2 closes its listener on its 5th connection while a burst is
    # under way: every client gets an answer or sees its connection
    # closed (none hangs), and the host goes on serving and exits cleanly.
    port = free_port()
    path = script("burst.lua", WHOAMI % 5)
    with Host(["--workers", "2", path, "127.0.0.1:%d" % port, "2"]) as h:
        check(h.wait_log(r"\[w2\] listening") and h.wait_log(r"\[w1\] listening"),
              h.stderr())
        socks = []
        for _ in range(60):
            s = connect(port)
            socks.append(s)
        answers = {}
        for s in socks:
            try:
                line = recv_line(s).strip() or b"closed"
            except ConnectionResetError:
                line = b"reset"
            except socket.timeout:
                line = b"hung"
            answers[line] = answers.get(line, 0) + 1
            s.close()
        check(b"hung" not in answers, repr(answers))
        check(answers.get(b"2", 0) >= 5 and answers.get(b"1", 0) > 0, repr(answers))
        print("# answers: %r" % {k.decode(): v for k, v in answers.items()})
        seen = served_by(port, 10)
        check(seen == [b"1"] * 10, repr(seen))
        stop(h)
