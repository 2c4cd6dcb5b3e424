"""Stopping: SIGINT/SIGTERM, the grace period, host.stop(), SIGPIPE."""
import signal
import socket
import time

from harness import test, check, Host, script, free_port, connect, recv_line, skip, example
import harness

SLOW = """local host = require 'host'
return function(conn)
  local line = conn:read('l')
  host.sleep(%s)
  conn:send('done ', line, '\\n')
end
"""


def stop_signal():
    """The usual stop request.  Windows has no SIGTERM (Wine ends the
    process at once on one); under Wine SIGINT stands in: Wine turns it
    into Ctrl-C (CTRL_C_EVENT) for the program's console handler."""
    return signal.SIGINT if harness.WINE else signal.SIGTERM


def received(sig):
    """What the host logs when sig arrives."""
    return "Ctrl-C received" if harness.WINE else "%s received" % sig.name


@test
def sigterm_exits_0_after_inflight_handlers_finish():
    port = free_port()
    path = script("slow.lua", SLOW % "0.5")
    with Host(["--listen", "127.0.0.1:%d" % port, "--grace", "5", path]) as h:
        s = connect(port)
        s.sendall(b"req\n")
        time.sleep(0.1)
        t0 = time.monotonic()
        h.signal(stop_signal())
        check(h.wait_log(received(stop_signal())), h.stderr())
        # no new connections during the grace period
        time.sleep(0.1)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            refused = True
        check(refused, "the listener closed at once")
        check(recv_line(s) == b"done req\n", "the in-flight request finished")
        code = h.wait(10)
        check(code == 0, "exit %r" % code)
        check(time.monotonic() - t0 < 3, "exited when the work was done, not after the grace")


@test
def sigint_exits_0():
    port = free_port()
    with Host(["--listen", "127.0.0.1:%d" % port, example("echo.lua")]) as h:
        connect(port).close()
        h.signal(signal.SIGINT)
        check(h.wait(10) == 0)


@test
def grace_period_ends_stuck_handlers():
    port = free_port()
    path = script("stuck.lua", SLOW % "60")
    with Host(["--listen", "127.0.0.1:%d" % port, "--grace", "0.5", "--workers", "2", path]) as h:
        s = connect(port)
        s.sendall(b"req\n")
        time.sleep(0.1)
        t0 = time.monotonic()
        h.signal(stop_signal())
        code = h.wait(10)
        elapsed = time.monotonic() - t0
        check(code == 0, "exit %r" % code)
        check(0.4 < elapsed < 3, "stopped after the grace: %.2fs" % elapsed)
        check(s.recv(10) == b"", "the stuck connection was closed")
        check("grace period over" in h.stderr(), h.stderr())


@test
def a_second_signal_stops_at_once():
    port = free_port()
    path = script("stuck2.lua", SLOW % "60")
    with Host(["--listen", "127.0.0.1:%d" % port, "--grace", "30", path]) as h:
        s = connect(port)
        s.sendall(b"req\n")
        time.sleep(0.1)
        h.signal(signal.SIGINT)
        check(h.wait_log(received(signal.SIGINT)))
        time.sleep(0.1)
        t0 = time.monotonic()
        h.signal(signal.SIGINT)
        check(h.wait(5) == 0)
        check(time.monotonic() - t0 < 2)
        s.close()


@test
def host_stop_from_the_script_exits_0():
    port = free_port()
    path = script("stopper.lua", "local host = require 'host'\n"
                  "return function(conn)\n"
                  "  if conn:read('l') == 'stop' then conn:send('stopping\\n'); host.stop() end\n"
                  "end\n")
    with Host(["--listen", "127.0.0.1:%d" % port, "--workers", "2", path]) as h:
        s = connect(port)
        s.sendall(b"stop\n")
        check(recv_line(s) == b"stopping\n")
        check(h.wait(10) == 0)
        s.close()


@test
def sigpipe_never_kills_the_host():
    port = free_port()
    path = script("writer.lua", "local host = require 'host'\n"
                  "return function(conn)\n"
                  "  conn:read('l')\n"
                  "  for i = 1, 2000 do\n"
                  "    if not conn:send(string.rep('p', 4096)) then return end\n"
                  "  end\n"
                  "end\n")
    with Host(["--listen", "127.0.0.1:%d" % port, "--workers", "1", path]) as h:
        for _ in range(5):
            s = connect(port)
            s.sendall(b"go\n")
            s.recv(100)
            s.close()  # unread data -> RST; the host's next writes fail
        time.sleep(0.3)
        check(h.proc.poll() is None, "host still running")
        s = connect(port)
        s.sendall(b"go\n")
        check(len(s.recv(100)) > 0, "host still serving")
        s.close()
