"""Listening sockets that outlive the host: systemd socket activation
(LISTEN_FDS), under `systemd-socket-activate`, and the load test of the
issue: 50 busy connections while the host is reloaded 10 times and
restarted twice (a new process on the same socket, then SIGTERM to the
old one), with no connection refused or reset and every byte echoed.

The role of systemd's .socket unit is played here by the test: it binds
and listens, and hands the socket to each host process as descriptor 3
with LISTEN_FDS=1 and LISTEN_PID set to that process (a shell sets it to
its own pid, then execs the host).
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

from harness import (Host, SCRATCH, check, connect, free_port, recv_line,
                     script, skip, test)
import harness

ECHO = """local host = require 'host'
local version = %r
return function(conn)
  for line in conn:lines() do
    conn:write(version, ' ', line, '\\n')
  end
end
"""


def linux_only():
    if harness.WINE:
        skip("socket activation is a Linux (systemd) feature")


class Activated:
    """A host process given `sock` as its descriptor 3 (LISTEN_FDS=1)."""

    def __init__(self, sock, args, tag):
        linux_only()
        self.errpath = os.path.join(SCRATCH, "activated-%s-%d.txt" % (tag, time.monotonic_ns()))
        self.err = open(self.errpath, "wb")
        fd = sock.fileno()
        cmd = list(harness.HOST_CMD)
        if harness.BACKEND:
            cmd += ["--backend", harness.BACKEND]
        move = "" if fd == 3 else " 3<&%d %d<&-" % (fd, fd)
        wrapper = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"' + move
        self.proc = subprocess.Popen(["bash", "-c", wrapper, "bash"] + cmd + args,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, pass_fds=(fd,))

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stderr().count(text) >= count:
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return self.stderr().count(text) >= count

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.err.close()


def listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s, s.getsockname()[1]


@test
def systemd_socket_activate_runs_the_host():
    linux_only()
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        r = subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "..", "..",
                                                 "cmake", "apt-ensure.sh"), "systemd"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tool = shutil.which("systemd-socket-activate")
        check(r.returncode == 0 and tool, "cannot install systemd-socket-activate")
    port = free_port()
    path = script("activated.lua", ECHO % "sa")
    cmd = list(harness.HOST_CMD)
    if harness.BACKEND:
        cmd += ["--backend", harness.BACKEND]
    errpath = os.path.join(SCRATCH, "socket-activate-%d.txt" % port)
    with open(errpath, "wb") as err:
        p = subprocess.Popen([tool, "-l", "127.0.0.1:%d" % port] + cmd +
                             ["--workers", "2", "--listen", "127.0.0.1:%d" % port, path],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            # The tool listens first; the host starts at the first connection.
            s = connect(port)
            s.sendall(b"one\n")
            check(recv_line(s) == b"sa one\n")
            conns = [connect(port) for _ in range(8)]
            for i, c in enumerate(conns):
                c.sendall(b"%d\n" % i)
                check(recv_line(c) == b"sa %d\n" % i)
            deadline = time.monotonic() + 10
            while True:  # the second worker may log a little later
                with open(errpath, "rb") as f:
                    text = f.read().decode()
                if text.count("listening on 127.0.0.1:%d" % port) == 2 or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            check("from the service manager (fd 3)" in text, text)
            check(text.count("listening on 127.0.0.1:%d" % port) == 2, text)
            p.send_signal(signal.SIGTERM)
            check(p.wait(10) == 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)


@test
def a_socket_that_is_not_ours_is_left_alone():
    linux_only()
    sock, port = listening_socket()
    other = free_port()
    path = script("notours.lua", ECHO % "x")
    h = Activated(sock, ["--listen", "127.0.0.1:%d" % other, path], "notours")
    try:
        # The host binds its own address; the inherited one is unused.
        check(h.wait_log("listening on 127.0.0.1:%d" % other), h.stderr())
        s = connect(other)
        s.sendall(b"a\n")
        check(recv_line(s) == b"x a\n")
        h.proc.send_signal(signal.SIGTERM)
        check(h.proc.wait(10) == 0)
    finally:
        h.close()
        sock.close()


class Load:
    """`n` client threads, each connecting, doing a few exchanges of a
    random line and checking every byte of each answer, then closing, over
    and over.  A connection the server closes between two exchanges (an
    end of stream before any byte of the answer) is not an error: the
    request is sent again on a new connection, as a keep-alive client
    does.  Refused, reset, a short or wrong answer, a timeout: errors."""

    def __init__(self, port, n):
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.versions = {}
        self.errors = []
        self.retries = 0
        self.exchanges = 0
        self.bytes = 0
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def error(self, what):
        with self.lock:
            self.errors.append(what)

    def exchange(self, s, f, line):
        """The answer's version; None if the server closed first."""
        s.sendall(line)
        answer = f.readline(1 << 20)
        if answer == b"":
            return None
        version, _, echoed = answer.partition(b" ")
        if echoed != line:
            raise ValueError("bad answer %r to %r" % (answer[:80], line[:80]))
        return version.decode()

    def client(self, i):
        rnd = random.Random(i)
        text = bytes(rnd.choice(b"abcdefghij") for _ in range(32768))
        seq = 0
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except ConnectionRefusedError:
                self.error("refused")
                time.sleep(0.05)
                continue
            except OSError as e:
                self.error("connect: %s" % e)
                time.sleep(0.05)
                continue
            s.settimeout(10)
            f = s.makefile("rb")
            try:
                for _ in range(rnd.randint(1, 20)):
                    if self.stop.is_set():
                        break
                    seq += 1
                    size = rnd.choice((1, 10, 100, 1000, 20000))
                    at = rnd.randrange(len(text) - size)
                    line = b"%d.%d:" % (i, seq) + text[at:at + size] + b"\n"
                    version = self.exchange(s, f, line)
                    if version is None:  # closed between exchanges: again
                        with self.lock:
                            self.retries += 1
                        break
                    with self.lock:
                        self.versions[version] = self.versions.get(version, 0) + 1
                        self.exchanges += 1
                        self.bytes += len(line)
            except (ConnectionResetError, BrokenPipeError) as e:
                self.error("reset: %s" % e)
            except socket.timeout:
                self.error("timeout")
            except (OSError, ValueError) as e:
                self.error(str(e))
            finally:
                f.close()
                s.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(20)


@test
def load_50_connections_10_reloads_2_restarts():
    linux_only()
    sock, port = listening_socket()
    path = script("load-%d.lua" % port, ECHO % "v0")
    workers = "2"

    def start(tag):
        h = Activated(sock, ["--workers", workers, "--listen", "127.0.0.1:%d" % port, path], tag)
        check(h.wait_log("listening on 127.0.0.1:%d" % port, count=2), h.stderr())
        check("from the service manager" in h.stderr(), h.stderr())
        return h

    hosts = [start("first")]
    load = Load(port, 50)
    version = 0
    try:
        time.sleep(0.5)
        for step in range(12):
            version += 1
            with open(path, "w") as f:
                f.write(ECHO % ("v%d" % version))
            h = hosts[-1]
            if step in (4, 9):  # a restart: the new process, then stop the old
                new = start("restart%d" % step)
                hosts.append(new)
                h.proc.send_signal(signal.SIGTERM)
                code = h.proc.wait(15)
                check(code == 0, "old host exit %r:\n%s" % (code, h.stderr()))
            else:
                before = h.stderr().count("] reloaded ")
                h.proc.send_signal(signal.SIGHUP)
                check(h.wait_log("] reloaded ", count=before + 2), h.stderr())
            time.sleep(0.4)
        time.sleep(0.3)
    finally:
        load.finish()
        last = hosts[-1]
        if last.proc.poll() is None:
            last.proc.send_signal(signal.SIGTERM)
            last.proc.wait(15)
        for h in hosts:
            h.close()
        sock.close()
    print("# %d exchanges, %d bytes, %d closed between exchanges and retried, answers by "
          "version: %s" % (load.exchanges, load.bytes, load.retries,
                           dict(sorted(load.versions.items(), key=lambda kv: int(kv[0][1:])))))
    check(not load.errors, "%d errors, e.g. %r" % (len(load.errors), load.errors[:5]))
    check(load.exchanges > 1000, "too little traffic: %d" % load.exchanges)
    # Every version served, the old script and the new ones alike.
    check(len(load.versions) >= 12, "versions seen: %r" % load.versions)
    check("v12" in load.versions, "the last script served")


@test
def the_systemd_units_agree():
    """scripts/systemd: the service listens where the socket unit does,
    reloads with SIGHUP, and gives systemd's stop timeout more than the
    grace."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    units = os.path.join(root, "scripts", "systemd")
    with open(os.path.join(units, "host.socket")) as f:
        sock = f.read()
    with open(os.path.join(units, "host.service")) as f:
        svc = f.read()
    streams = [l.split("=", 1)[1].strip() for l in sock.splitlines()
               if l.startswith("ListenStream=")]
    exec_start = [l for l in svc.splitlines() if l.startswith("ExecStart=")][0].split()
    listens = [exec_start[i + 1] for i, a in enumerate(exec_start) if a == "--listen"]
    check(streams and streams == listens, "socket %r, service %r" % (streams, listens))
    check("Requires=host.socket" in svc)
    check("ExecReload=/bin/kill -HUP $MAINPID" in svc)
    grace = float(exec_start[exec_start.index("--grace") + 1])
    stop = [float(l.split("=")[1]) for l in svc.splitlines() if l.startswith("TimeoutStopSec=")][0]
    check(stop > grace, "TimeoutStopSec %g <= --grace %g" % (stop, grace))


@test
def load_50_connections_10_reloads():
    """The same load with reloads only, on every platform (Windows: through
    host --reload, since it has no SIGHUP nor socket activation)."""
    from reload_test import reload
    port = free_port()
    path = script("reloads-%d.lua" % port, ECHO % "v0")
    pidfile = path + ".pid"
    h = Host(["--workers", "2", "--listen", "127.0.0.1:%d" % port, "--pid-file", pidfile, path])
    load = None
    try:
        check(h.wait_log("listening on 127.0.0.1:%d" % port), h.stderr())
        deadline = time.monotonic() + 10
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.02)
        load = Load(port, 50)
        time.sleep(0.5)
        for version in range(1, 11):
            with open(path, "w") as f:
                f.write(ECHO % ("v%d" % version))
            reload(h, pidfile, n=2)
            time.sleep(0.3)
    finally:
        if load:
            load.finish()
        h.signal(signal.SIGINT if harness.WINE else signal.SIGTERM)
        code = h.wait(20)
        h.close()
    print("# %d exchanges, %d retried after a close between exchanges, by version: %s"
          % (load.exchanges, load.retries,
             dict(sorted(load.versions.items(), key=lambda kv: int(kv[0][1:])))))
    check(code == 0, "exit %r" % code)
    check(not load.errors, "%d errors, e.g. %r" % (len(load.errors), load.errors[:5]))
    check(len(load.versions) >= 11 and "v10" in load.versions, repr(load.versions))
