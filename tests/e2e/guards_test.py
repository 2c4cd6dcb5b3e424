"""Guards and windows (issue 12): a runaway handler cannot freeze its
worker (time slices, the cpu limit, the watchdog), connection and memory
limits, and seeing inside (the task dump, metrics scraped over HTTP).

Timings are checked with room to spare: the machine that runs this may
be busy with builds on both its cores."""
import os
import re
import resource
import select
import socket
import subprocess
import threading
import time
import urllib.request

from harness import test, check, Host, script, free_port, connect, skip, example, recv_line
import harness

SPIN = """local host = require 'host'
return function(conn)
  local what = conn:read('l')
  if what == 'spin' then
    local x = 0
    while true do x = x + 1 end
  elseif what == 'pcall' then
    while true do
      pcall(function() local x = 0; while true do x = x + 1 end end)
    end
  elseif what == 'work' then
    for i = 1, 6 do
      local t = host.now()
      while host.now() - t < 0.5 do end
      conn:send('step ' .. i .. '\\n')
    end
    conn:send('done\\n')
  else
    conn:send(what .. '\\n')
    for line in conn:lines() do conn:send(line .. '\\n') end
  end
end
"""


def line_client(port, first):
    s = connect(port)
    s.sendall(first + b"\n")
    return s


def closed_by_peer(s, timeout=10):
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    except socket.timeout:
        return False


def kills(h):
    return len(re.findall(r"cpu limit exceeded", h.stderr()))


@test
def a_spinning_handler_is_sliced_then_killed():
    port = free_port()
    h = Host(["--workers", "1", "--cpu-limit", "3", "--listen", "127.0.0.1:%d" % port,
              script("spin.lua", SPIN)])
    try:
        echo = line_client(port, b"hi")
        check(recv_line(echo) == b"hi\n", "echo before")
        spinner = line_client(port, b"spin")
        time.sleep(0.3)  # it spins now
        # The worker's other connection keeps being served...
        lat = []
        for _ in range(200):
            t = time.monotonic()
            echo.sendall(b"x\n")
            check(recv_line(echo) == b"x\n", "echo while spinning")
            lat.append(time.monotonic() - t)
        lat.sort()
        median, p99 = lat[100], lat[197]
        # A round trip waits a slice (10 ms) or two; the issue asks for a
        # p99 below 50 ms, which an idle machine meets (see the README);
        # a loaded one gets room.
        check(median < 0.05, "median %.1f ms" % (median * 1e3))
        check(p99 < 0.25, "p99 %.1f ms" % (p99 * 1e3))
        # ...and new connections are accepted and served.
        for i in range(5):
            c = line_client(port, b"new%d" % i)
            check(recv_line(c) == b"new%d\n" % i, "a new connection while spinning")
            c.close()
        check(h.proc.poll() is None, "alive")
        # At the limit: killed, with its traceback, its connection closed.
        check(h.wait_log(r"cpu limit exceeded", 15), h.stderr())
        err = h.stderr()
        check(re.search(r"ERROR \[w1\] handler error \(peer 127\.0\.0\.1:\d+\): cpu limit exceeded\n"
                        r"stack traceback:\n\s+\S*spin\.lua:6: in function", err), err)
        check(closed_by_peer(spinner), "the spinner's connection is closed")
        echo.sendall(b"after\n")
        check(recv_line(echo) == b"after\n", "the worker lives on")
        echo.close()
        spinner.close()
    finally:
        h.close()


@test
def pcall_cannot_keep_a_spinner_alive():
    port = free_port()
    h = Host(["--workers", "1", "--cpu-limit", "1", "--listen", "127.0.0.1:%d" % port,
              script("spin.lua", SPIN)])
    try:
        s = line_client(port, b"pcall")
        check(h.wait_log(r"cpu limit exceeded", 15), h.stderr())
        check(re.search(r"spin\.lua:9: in function .*\n\s+\[C\]: in function 'pcall'", h.stderr()),
              h.stderr())
        check(closed_by_peer(s), "its connection is closed")
        s.close()
        time.sleep(0.5)
        check(kills(h) == 1, "killed once: " + h.stderr())
        e = line_client(port, b"still")
        check(recv_line(e) == b"still\n", "the worker lives on")
        e.close()
    finally:
        h.close()


@test
def long_work_with_io_between_is_never_killed():
    port = free_port()
    h = Host(["--workers", "1", "--cpu-limit", "1", "--listen", "127.0.0.1:%d" % port,
              script("spin.lua", SPIN)])
    try:
        s = line_client(port, b"work")  # 6 x 0.5 s of work, a send after each
        s.settimeout(20)
        got = [recv_line(s) for _ in range(7)]
        check(got == [b"step %d\n" % i for i in range(1, 7)] + [b"done\n"], repr(got))
        check(kills(h) == 0, h.stderr())
        s.close()
    finally:
        h.close()


STUCK = """local host = require 'host'
return function(conn)
  conn:read('l')
  local line = io.read('l')
  conn:send(line .. '\\n')
end
"""


@test
def a_worker_stuck_in_a_c_call_is_reported():
    port = free_port()
    h = Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port, script("stuck.lua", STUCK)],
             stdin=subprocess.PIPE)
    try:
        s = line_client(port, b"go")  # the handler blocks reading stdin
        where = (r"task \d+ \(handler, peer 127\.0\.0\.1:\d+\) at \S*stuck\.lua:4 "
                 r"\(inside a C function it called\)")
        check(h.wait_log(r"WARN  \[w1\] the worker has not come back to its loop for 1\.\d s: " + where,
                         10), h.stderr())
        check(h.wait_log(r"for [56]\.\d s: " + where, 10), "repeated: " + h.stderr())
        h.proc.stdin.write(b"free\n")
        h.proc.stdin.flush()
        check(recv_line(s) == b"free\n", "answered once free")
        check(h.wait_log(r"the worker is back in its loop after \d+\.\d s", 5), h.stderr())
        s.close()
    finally:
        h.close()


DUMP = """local host = require 'host'
if host.worker == 1 then print(host.pid) io.stdout:flush() end
return function(conn)
  conn:read('l')
end
"""


def read_stdout_line(h, timeout=10):
    fd = h.proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 1)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()


@test
def the_tasks_are_dumped_on_request():
    port = free_port()
    h = Host(["--workers", "2", "--listen", "127.0.0.1:%d" % port, script("dump.lua", DUMP)])
    try:
        pid = read_stdout_line(h)
        check(pid.isdigit(), "host.pid printed: %r" % pid)
        clients = [connect(port) for _ in range(4)]
        time.sleep(0.3)
        task = r"task \d+ \(handler, peer 127\.0\.0\.1:\d+\) recv for \d+\.\d s: stack traceback:"
        if not harness.WINE:
            h.signal(__import__("signal").SIGUSR1)
            check(h.wait_log(task, 10), h.stderr())
            check(h.wait_log(r"\[w2\] \d+ task\(s\)", 10), "every worker dumps: " + h.stderr())
            check(h.proc.poll() is None, "SIGUSR1 does not stop the host")
            before = len(re.findall(task, h.stderr()))
        else:
            before = 0
        # `host --dump PID` asks the same (Windows: through a named event).
        r = subprocess.run(harness.HOST_CMD + ["--dump", pid], capture_output=True, timeout=60)
        check(r.returncode == 0, r.stderr.decode())
        deadline = time.monotonic() + 10
        while len(re.findall(task, h.stderr())) < before + 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(len(re.findall(task, h.stderr())) >= before + 4, h.stderr())
        check(re.search(r"\S*dump\.lua:4: in function", h.stderr()), h.stderr())
        for c in clients:
            c.close()
    finally:
        h.close()


@test
def dumping_a_process_that_is_not_there_fails():
    r = subprocess.run(harness.HOST_CMD + ["--dump", "999999999"], capture_output=True, timeout=60)
    check(r.returncode == 1, "exit %d" % r.returncode)
    check(b"999999999" in r.stderr, r.stderr.decode())


ECHO_LINES = """return function(conn)
  for line in conn:lines() do conn:send(line .. '\\n') end
end
"""


def cpu_check(h, seconds=1.0, most=0.2):
    if harness.WINE or not os.path.exists("/proc/%d/stat" % h.proc.pid):
        return  # no /proc for the Windows process
    cpu0 = h.cpu_seconds()
    time.sleep(seconds)
    busy = h.cpu_seconds() - cpu0
    check(busy < most, "no busy loop while paused: %.2f s of CPU in %.1f s" % (busy, seconds))


@test
def max_connections_pauses_and_resumes_accepting():
    port = free_port()
    h = Host(["--workers", "1", "--max-connections", "4", "--listen", "127.0.0.1:%d" % port,
              script("lines.lua", ECHO_LINES)])
    try:
        first = []
        for i in range(4):
            c = line_client(port, b"a%d" % i)
            check(recv_line(c) == b"a%d\n" % i, "served")
            first.append(c)
        check(h.wait_log(r"4 connections open, the limit \(--max-connections\): accepting paused", 5),
              h.stderr())
        late = line_client(port, b"late")  # the kernel takes it; we do not
        late.settimeout(0.7)
        try:
            check(late.recv(10) == b"", "not served at the limit")
            check(False, "closed instead of waiting")
        except socket.timeout:
            pass
        cpu_check(h)
        first[0].sendall(b"still\n")
        check(recv_line(first[0]) == b"still\n", "open connections keep working")
        first[1].close()
        first[2].close()  # 2 open: below the low mark (3)
        late.settimeout(5)
        check(recv_line(late) == b"late\n", "accepted again below the limit")
        check(h.wait_log(r"connections open: accepting again", 5), h.stderr())
        check(len(re.findall(r"accepting paused", h.stderr())) == 1, "one line: " + h.stderr())
        for c in (first[0], first[3], late):
            c.close()
    finally:
        h.close()


@test
def the_descriptor_limit_sets_the_default_connection_limit():
    if harness.WINE or not os.path.exists("/proc/self/stat"):
        skip("needs RLIMIT_NOFILE and /proc (Linux); Windows has no descriptor limit")
    port = free_port()

    def low_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    # 256 descriptors: the default limit is 256 - 32 = 224 connections.
    h = Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port, script("lines.lua", ECHO_LINES)],
             preexec=low_fds)
    clients = []
    try:
        connect(port).close()
        for i in range(260):
            c = socket.socket()
            c.settimeout(5)
            c.connect(("127.0.0.1", port))
            clients.append(c)
        check(h.wait_log(r"224 connections open, the limit", 10), h.stderr())
        clients[0].sendall(b"first\n")
        check(recv_line(clients[0]) == b"first\n", "existing connections keep working")
        clients[-1].sendall(b"last\n")
        clients[-1].settimeout(0.5)
        try:
            clients[-1].recv(10)
            check(False, "served past the limit")
        except socket.timeout:
            pass
        cpu_check(h)
        for c in clients[1:60]:
            c.close()
        clients = [clients[0]] + clients[60:]
        clients[-1].settimeout(10)
        check(recv_line(clients[-1]) == b"last\n", "accepted again after some closed")
        # The limit came first; a burst of clients may still run the
        # descriptors out (io_uring accepts what has arrived before the
        # pause lands), which pauses with a back-off too.
        err = h.stderr()
        exhausted = err.find("too many open files")
        check(exhausted < 0 or err.find("224 connections open") < exhausted, err)
        check(h.proc.poll() is None, "alive")
    finally:
        for c in clients:
            c.close()
        h.close()


READ_ALL = """local host = require 'host'
return function(conn)
  local data, err = conn:read('a')
  if not data then host.log('warn', 'read: ' .. err) end
  conn:send(data and tostring(#data) or err)
end
"""


def sanitized(pid):
    """The host runs with AddressSanitizer, whose shadow memory and
    quarantine say nothing of what the host holds."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0


@test
def the_memory_limit_bounds_what_a_worker_holds():
    if harness.WINE or not os.path.exists("/proc/self/status"):
        skip("measures RSS in /proc (Linux)")
    port = free_port()
    h = Host(["--workers", "1", "--memory-limit", "32", "--listen", "127.0.0.1:%d" % port,
              script("reada.lua", READ_ALL)])
    peak = [0.0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_mb(h.proc.pid))
            except OSError:
                return
            time.sleep(0.02)

    def client():
        try:
            s = connect(port, timeout=20)
            blob = b"x" * (1 << 20)
            for _ in range(16):
                s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            while s.recv(100):
                pass
        except OSError:
            pass  # reset: the handler answered and closed before the end
        finally:
            s.close()

    try:
        connect(port).close()
        watcher = threading.Thread(target=watch)
        watcher.start()
        # 40 clients, each making a handler read 16 MiB with read("a").
        ts = [threading.Thread(target=client) for _ in range(40)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        done.set()
        watcher.join()
        check(h.proc.poll() is None, "alive")
        check(h.wait_log(r"read: no resources", 5), h.stderr())
        asan = sanitized(h.proc.pid)
        # 32 MB of buffers and VM, and the process around them.
        check(asan or peak[0] < 100, "peak RSS %.0f MB" % peak[0])
        s = connect(port)
        s.sendall(b"y" * 1000)
        s.shutdown(socket.SHUT_WR)
        check(s.recv(100) == b"1000", "a read within the limit works")
        s.close()
        time.sleep(2.5)  # idle: the worker gives the peak back
        check(asan or rss_mb(h.proc.pid) < 40, "RSS after the peak %.0f MB" % rss_mb(h.proc.pid))
    finally:
        done.set()
        h.close()


def samples(text):
    """name{labels} value -> {key: int}; checks every line's form."""
    out, typed = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (gauge|counter)$", line)
        if m:
            typed[m.group(1)] = m.group(2)
            continue
        if line.startswith("# HELP "):
            continue
        m = re.match(r'([a-z_]+)\{([a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*)\} (-?\d+)$', line)
        check(m, "not a sample line: %r" % line)
        check(m.group(1) in typed, "untyped: " + line)
        out[m.group(1) + "{" + m.group(2) + "}"] = int(m.group(3))
    return out


def scrape_raw(port):
    """GET /metrics on a plain socket: (samples, bytes received)."""
    s = connect(port)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return samples(data.split(b"\r\n\r\n", 1)[1].decode()), len(data)


@test
def the_metrics_example_counts_exactly_and_speaks_http():
    port, mport = free_port(), free_port()
    h = Host(["--workers", "1", "--listen", "127.0.0.1:%d" % port, example("metrics.lua"),
              "127.0.0.1:%d" % mport])
    try:
        req = len(b"GET /metrics HTTP/1.0\r\n\r\n")
        first, first_len = scrape_raw(mport)
        w = '{worker="1"}'
        check(first["host_connections_accepted_total" + w] == 1, repr(first))
        check(first["host_received_bytes_total" + w] == req, repr(first))
        k, msg = 5, b"hello\n"
        for _ in range(k):
            s = connect(port)
            s.sendall(msg)
            check(recv_line(s) == msg, "echo")
            s.shutdown(socket.SHUT_WR)
            check(s.recv(10) == b"", "closed after us")
            s.close()
        time.sleep(0.3)
        now, _ = scrape_raw(mport)
        expect = {
            "host_connections_accepted_total": 1 + k + 1,
            "host_connections_closed_total": 1 + k,
            "host_connections_open": 1,
            "host_received_bytes_total": req + k * len(msg) + req,
            "host_sent_bytes_total": first_len + k * len(msg),
            "host_cpu_kills_total": 0,
        }
        for name, value in expect.items():
            check(now[name + w] == value, "%s: %d, not %d" % (name, now[name + w], value))
        check(now['host_errors_total{worker="1",error="closed"}'] == k, repr(now))
        check(now['host_tasks_waiting{worker="1",on="recv"}'] == 0, repr(now))
        # A real HTTP client.
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
            check(r.status == 200, "status %d" % r.status)
            check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                  r.headers["Content-Type"])
            got = samples(r.read().decode())
        check(got["host_connections_accepted_total" + w] == 1 + k + 2, repr(got))
    finally:
        h.close()


@test
def the_metrics_cover_every_worker():
    port, mport = free_port(), free_port()
    h = Host(["--workers", "2", "--listen", "127.0.0.1:%d" % port, example("metrics.lua"),
              "127.0.0.1:%d" % mport])
    try:
        for _ in range(50):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
                    got = samples(r.read().decode())
                break
            except OSError:
                time.sleep(0.1)
        for wid in ("1", "2"):
            check('host_lua_memory_bytes{worker="%s"}' % wid in got, repr(got))
            check(got['host_memory_limit_bytes{worker="%s"}' % wid] > 0, repr(got))
    finally:
        h.close()


SPIN_TEST = """describe("spin", function()
  it("computes for ever", function()
    while true do end
  end)
  it("comes after it", function()
    assert.equal(2, 1 + 1)
  end)
end)
"""


@test
def host_test_fails_a_test_that_computes_for_ever():
    path = script("forever_test.lua", SPIN_TEST)
    t0 = time.monotonic()
    h = Host(["test", path], env={"HOST_TEST_TIMEOUT": "1"})
    try:
        code = h.wait(30)
        out = h.stdout().replace("\r\n", "\n")
        check(code == 1, "exit %d: %s" % (code, out))
        check(re.search(r"not ok 1 - spin computes for ever\n#   timed out after 1 s", out), out)
        check("ok 2 - spin comes after it" in out, out)
        check("1 passed, 1 failed" in out, out)
        check(time.monotonic() - t0 < 20, "took %.1f s" % (time.monotonic() - t0))
    finally:
        h.close()
