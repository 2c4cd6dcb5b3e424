"""Hardening: the symptoms that need a process of their own or a peer
outside the host (numbers as in the hardening issue)."""
import os
import signal
import socket
import struct
import subprocess
import time

from harness import test, check, Host, run, script, free_port, connect, skip
import harness


def stop_signal():
    return signal.SIGINT if harness.WINE else signal.SIGTERM


# ---- 4. a reply is not lost when the handler closes with unread input ----

LINGER = """local host = require 'host'
return function(conn)
  conn:read('l')
  assert(conn:send(string.rep('r', %d)))
end
"""


@test
def close_with_unread_input_keeps_the_reply():
    size = 1048576
    port = free_port()
    with Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port,
               script("linger.lua", LINGER % size)]) as h:
        # 100 KB pipelined lost the reply on epoll and IOCP every time;
        # io_uring pulled that much in before the close, 1 MB not always.
        for attempt, pipelined in enumerate([100000] * 4 + [1000000] * 8):
            s = connect(port)
            s.sendall(b"first line\n" + b"p" * pipelined)  # never read
            time.sleep(0.2)  # the handler has sent and returned by now
            got = 0
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += len(chunk)
            s.close()
            check(got == size, "try %d: got %d of %d bytes" % (attempt, got, size))


# ---- 6. listening twice with several workers -----------------------------

TWICE = """local host = require 'host'
local h = function(c) c:send('w' .. host.worker) end
local port = %d
local first = assert(host.listen('127.0.0.1:' .. port, h))
for _, addr in ipairs { '127.0.0.1:' .. port, 'localhost:' .. port,
                        '127.0.0.1:' .. string.rep('0', 100) .. port,
                        '*:' .. port } do
  local l, err = host.listen(addr, h)
  print(host.worker, addr:sub(1, 12), l and 'listening' or err)
end
local a = assert(host.listen('127.0.0.1:0', h))
local b = assert(host.listen('127.0.0.1:0', h))
print(host.worker, 'port 0 twice', a.address ~= b.address and 'distinct' or 'same')
host.sleep(0.3)
host.stop()
"""


@test
def listen_twice_on_one_address_is_refused_with_two_workers():
    port = free_port()
    code, out, err = run(["--workers", "2", script("twice.lua", TWICE % port)])
    check(code == 0, "exit %r: %s" % (code, err))
    lines = [x.strip() for x in out.strip().splitlines()]
    check(len(lines) == 10, out)
    for line in lines:
        check(line.endswith("address already in use") or line.endswith("distinct"), out)


# ---- 7. host.stop with a huge grace waits ----------------------------------

HUGE = """local host = require 'host'
host.spawn(function()
  host.sleep(0.5)
  print('finished')
end)
host.sleep(0.05)
host.stop(%s)
"""


@test
def stop_with_a_huge_grace_waits_for_the_tasks():
    for grace in ("1e300", "math.huge"):
        code, out, err = run(["--workers", "1", script("huge.lua", HUGE % grace)])
        check(code == 0, "exit %r: %s" % (code, err))
        check("finished" in out, "the task was killed: %r %s" % (out, err))
        check("waiting for handlers to finish" in err, err)


# ---- 8. signals --------------------------------------------------------------

ECHO_PORT = """return function(conn)
  while true do
    local d = conn:recv()
    if not d then return end
    conn:send(d)
  end
end
"""


def echo_once(port, data=b"ping"):
    s = connect(port)
    s.sendall(data)
    got = s.recv(100)
    s.close()
    return got


@test
def stray_signals_do_not_kill_the_host():
    if harness.WINE:
        skip("POSIX signals")
    port = free_port()
    with Host(["--listen", "127.0.0.1:%d" % port, script("echo.lua", ECHO_PORT)]) as h:
        check(echo_once(port) == b"ping", "serving")
        for sig in (signal.SIGHUP, signal.SIGUSR2, signal.SIGALRM, signal.SIGUSR1):
            h.signal(sig)
            time.sleep(0.1)
            check(h.proc.poll() is None, "%s killed the host: %s" % (sig.name, h.stderr()))
            check(echo_once(port) == b"ping", "still serving after %s" % sig.name)
        check("SIGHUP received" in h.stderr(), h.stderr())
        h.signal(signal.SIGQUIT)  # a graceful stop, as SIGTERM
        check(h.wait(10) == 0, h.stderr())
        check("SIGQUIT received" in h.stderr(), h.stderr())


STUCK = """local host = require 'host'
return function(conn)
  conn:read('l')
  while true do end
end
"""


@test
def second_stop_ends_the_process_even_with_a_stuck_handler():
    port = free_port()
    # --slice 0: no time slices, so the loop really never gives the worker
    # back (with them it is paused, and the stop goes through).
    with Host(["--workers", "1", "--slice", "0", "--listen", "127.0.0.1:%d" % port,
               script("stuck.lua", STUCK)]) as h:
        s = connect(port)
        s.sendall(b"go\n")
        time.sleep(0.3)
        h.signal(stop_signal())
        time.sleep(0.3)
        check(h.proc.poll() is None, "still in its grace period")
        t0 = time.monotonic()
        h.signal(stop_signal())
        code = h.wait(10)
        check(time.monotonic() - t0 < 5, "took %.1f s" % (time.monotonic() - t0))
        check(code != 0, "a forced exit is not a clean stop: %r" % code)
        check("did not stop" in h.stderr(), h.stderr())
        s.close()


# ---- 9. peer behaviour is not a script error --------------------------------

LINES = """return function(conn)
  for line in conn:lines() do conn:send(line, '\\n') end
end
"""


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


@test
def a_reset_storm_inside_lines_logs_no_error():
    port = free_port()
    with Host(["--listen", "127.0.0.1:%d" % port, script("lines.lua", LINES)]) as h:
        for _ in range(50):
            s = connect(port)
            s.sendall(b"hello\n")
            s.recv(10)
            s.sendall(b"partial")
            reset(s)
        time.sleep(0.3)
        err = h.stderr()
        check("ERROR" not in err and "peer ?" not in err, err)


ERRORS = """local host = require 'host'
return function(conn)
  conn:read('l')
  host.sleep(tonumber(os.getenv('DELAY') or 0))
  error('bad request')
end
"""


def read_to_end(s):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


@test
def handler_errors_are_rate_limited():
    port = free_port()
    with Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port,
               script("errors.lua", ERRORS)]) as h:
        t0 = time.monotonic()
        for _ in range(200):
            s = connect(port)
            s.sendall(b"x\n")
            read_to_end(s)
        took = time.monotonic() - t0
        time.sleep(1.2)
        s = connect(port)
        s.sendall(b"x\n")
        read_to_end(s)
        time.sleep(0.3)
        err = h.stderr()
        n = err.count("handler error")
        # 20 lines per second at most, whatever the pace of the storm
        # (slower under Wine): the 200 errors must not all be logged.
        bound = 20 * (int(took) + 2) + 1
        check(20 <= n <= min(bound, 150), "%d handler error lines in %.1f s" % (n, took))
        check("more not logged" in err, err[-2000:])


@test
def a_handler_error_names_a_peer_that_has_reset():
    port = free_port()
    with Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port,
               script("errors.lua", ERRORS)], env={"DELAY": "0.2"}) as h:
        s = connect(port)
        s.sendall(b"x\n")
        time.sleep(0.05)  # the handler has read its line
        local = s.getsockname()[1]
        reset(s)
        check(h.wait_log("handler error", 5), h.stderr())
        err = h.stderr()
        check("(peer 127.0.0.1:%d)" % local in err, err)


CLOSE_THEN_FAIL = """return function(conn)
  conn:read('l')
  conn:close()
  error('failed after closing')
end
"""


@test
def a_handler_error_after_its_close_names_the_peer():
    """The peer's address is looked up when first needed: a handler that
    closed its connection before failing is still named."""
    port = free_port()
    with Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port,
               script("close_then_fail.lua", CLOSE_THEN_FAIL)]) as h:
        s = connect(port)
        local = s.getsockname()[1]
        s.sendall(b"x\n")
        check(h.wait_log("handler error", 5), h.stderr())
        err = h.stderr()
        check("(peer 127.0.0.1:%d)" % local in err, err)
        s.close()

# ---- 10. host test ---------------------------------------------------------------

def host_test(body, timeout=20):
    path = script("case_%d_test.lua" % time.monotonic_ns(), body)
    t0 = time.monotonic()
    code, out, err = run(["test", path], timeout=timeout)
    return code, out, err, time.monotonic() - t0


@test
def os_exit_inside_a_test_fails_it():
    code, out, _, _ = host_test("""
it("exits", function() os.exit(0) end)
it("runs on", function() end)
""")
    check(code == 1, "exit %r: %s" % (code, out))
    check("not ok 1 - exits" in out and "os.exit(0) called inside a test" in out, out)
    check("ok 2 - runs on" in out and "1 passed, 1 failed" in out, out)


@test
def a_test_waiting_for_nothing_fails_at_once():
    code, out, _, took = host_test("""
local host = require "host"
it("waits", function() host.wait() end)
it("yields", function() coroutine.yield() end)
it("runs on", function() end)
""")
    check(code == 1, "exit %r: %s" % (code, out))
    check("not ok 1 - waits" in out and "nothing left that could wake it" in out, out)
    check("not ok 2 - yields" in out and "nothing would resume it" in out, out)
    check("1 passed, 2 failed" in out, out)
    check(took < 5, "took %.1f s" % took)


@test
def a_handler_error_fails_the_test_that_caused_it():
    code, out, _, _ = host_test("""
local host = require "host"
it("serves", function()
  local l = assert(host.listen("127.0.0.1:0", function(c) error("oops") end))
  local c = assert(host.connect(l.address))
  c:recv()
  c:close(); l:close()
end)
it("takes it", function()
  local l = assert(host.listen("127.0.0.1:0", function(c) error("oops") end))
  local c = assert(host.connect(l.address))
  c:recv()
  c:close(); l:close()
  assert.matches("oops", task_errors()[1])
end)
""")
    check("not ok 1 - serves" in out and "oops" in out, out)
    check("ok 2 - takes it" in out, out)
