"""Limits: running out of descriptors, the forced io_uring fallback."""
import os
import resource
import socket
import time

from harness import test, check, Host, script, free_port, connect, skip, example, run
import harness


@test
def out_of_descriptors_pauses_accept_and_recovers():
    if harness.WINE or not os.path.exists("/proc/self/stat"):
        skip("needs RLIMIT_NOFILE and /proc (Linux)")
    port = free_port()
    path = script("holder.lua", "return function(conn) conn:read('a') end\n")

    def low_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    # --max-connections 0: no connection limit, so that the descriptors
    # run out (guards_test.py has the limit the descriptors imply).
    with Host(["--listen", "127.0.0.1:%d" % port, "--workers", "1", "--max-connections", "0",
               path], preexec=low_fds) as h:
        clients = []
        try:
            connect(port).close()
            for _ in range(100):  # more than the host has descriptors for
                c = socket.socket()
                c.settimeout(5)
                c.connect(("127.0.0.1", port))
                clients.append(c)
            check(h.wait_log(r"too many open files \(pausing accepts\)", 5), h.stderr())
            cpu0 = h.cpu_seconds()
            time.sleep(1.0)
            busy = h.cpu_seconds() - cpu0
            check(busy < 0.3, "no busy loop while exhausted: %.2fs CPU in 1s" % busy)
            for c in clients:
                c.close()
            clients = []
            time.sleep(0.3)
            s = connect(port)
            s.sendall(b"x")
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            check(s.recv(1) == b"", "served after recovery (the handler reads to EOF)")
            s.close()
            check(h.proc.poll() is None, "still running")
        finally:
            for c in clients:
                c.close()


def fallback_tool():
    here = os.path.dirname(os.path.abspath(__file__))
    host = harness.HOST_CMD[-1]
    for candidate in (os.path.join(os.path.dirname(host), "tests", "tools", "no_io_uring"),
                      os.path.join(here, "..", "..", "build", "tests", "tools", "no_io_uring")):
        if os.path.exists(candidate):
            return candidate
    return None


@test
def io_uring_blocked_falls_back_to_epoll():
    if harness.WINE or harness.BACKEND not in (None, "io_uring"):
        skip("the io_uring fallback is Linux's")
    tool = fallback_tool()
    if not tool:
        skip("tests/tools/no_io_uring is not built")
    saved = harness.HOST_CMD
    harness.HOST_CMD = [tool] + saved
    try:
        code, out, err = run(["--version"], backend=False)
        check(code == 0, "exit %r" % code)
        check("(epoll backend" in out, out)
        check("io_uring unavailable" in out, out)
        port = free_port()
        with Host(["--listen", "127.0.0.1:%d" % port, example("echo.lua")], backend=False) as h:
            s = connect(port)
            s.sendall(b"fallback")
            check(s.recv(8) == b"fallback")
            s.close()
            check(h.wait_log(r"WARN .*io_uring unavailable \(.*\); using epoll"), h.stderr())
            check(h.stderr().count("io_uring unavailable") == 1, "one log line: " + h.stderr())
    finally:
        harness.HOST_CMD = saved


@test
def memory_limit_ends_only_the_greedy_handler():
    port = free_port()
    path = script("greedy.lua", "return function(conn)\n"
                  "  local line = conn:read('l')\n"
                  "  if line == 'greedy' then\n"
                  "    local t = {}\n"
                  "    for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end\n"
                  "  end\n"
                  "  conn:send('fine\\n')\n"
                  "end\n")
    with Host(["--listen", "127.0.0.1:%d" % port, "--workers", "1", "--memory-limit", "8", path]) as h:
        g = connect(port)
        g.sendall(b"greedy\n")
        check(g.recv(10) == b"", "the greedy handler's connection is closed")
        g.close()
        check(h.wait_log(r"ERROR \[w1\] handler error .*not enough memory"), h.stderr())
        for _ in range(3):
            s = connect(port)
            s.sendall(b"modest\n")
            check(s.recv(10) == b"fine\n", "others are still served")
            s.close()
        check(h.proc.poll() is None, "still running")
