"""The end-to-end harness: start `host` as a process, drive it from
outside (sockets, signals), check what it prints and how it exits.

Tests are plain functions registered with @test.  run.py imports the test
modules and calls run_all(), which prints "ok N - name" / "not ok N - name"
with the failure, then "N passed, N failed".  Every wait is bounded.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HOST_CMD = ["build/host"]      # set by run.py: argv prefix that runs the host
BACKEND = None                 # --backend for every start, or None
WINE = False                   # the host runs under Wine
SCRATCH = tempfile.mkdtemp(prefix="host-e2e-")

_tests = []


class Skip(Exception):
    pass


def test(fn):
    _tests.append(fn)
    return fn


def skip(why):
    raise Skip(why)


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def script(name, text):
    """Writes a Lua script into the scratch directory; returns its path."""
    path = os.path.join(SCRATCH, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def example(name):
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "scripts", "examples", name)


class Host:
    """A running host process; stderr goes to a file we can search.

    Use it as a context manager: `with Host([...]) as h:` kills the
    process (if it still runs) and closes its stderr file on the way out,
    however the block ends."""

    def __init__(self, args, env=None, backend=True, preexec=None, stdin=None, prefix=None):
        """prefix: a command that runs the host (e.g. with_hosts.sh FILE)."""
        self.errpath = os.path.join(SCRATCH, "stderr-%d-%d.txt" % (os.getpid(), time.monotonic_ns()))
        self.err = open(self.errpath, "wb")
        cmd = list(prefix or []) + list(HOST_CMD)
        if backend and BACKEND:
            cmd += ["--backend", BACKEND]
        cmd += args
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self.err, env=full_env, preexec_fn=preexec)
        self._out = None

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.stderr()):
                return True
            if self.proc.poll() is not None:
                return bool(re.search(pattern, self.stderr()))
            time.sleep(0.02)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=15):
        """Exit code, or raises if the process does not exit in time."""
        try:
            out, _ = self.proc.communicate(timeout=timeout)
            self._out = out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("host did not exit within %g s; stderr:\n%s" % (timeout, self.stderr()))
        return self.proc.returncode

    def stdout(self):
        return self._out or ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def close(self):
        self.kill()
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False  # an exception in the block goes on

    def cpu_seconds(self):
        """User+system CPU time of the process so far (Linux only)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick


def run(args, timeout=15, **kw):
    """Starts the host, waits for it, returns (code, stdout, stderr)."""
    with Host(args, **kw) as h:
        code = h.wait(timeout)
        return code, h.stdout(), h.stderr()


def connect(port, timeout=5, tries=250):
    """Connects to the host, retrying while it starts up."""
    last = None
    for _ in range(tries):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            s.settimeout(timeout)
            return s
        except OSError as e:
            last = e
            time.sleep(0.02)
    raise AssertionError("cannot connect to port %d: %s" % (port, last))


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_line(s, limit=65536):
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def run_all(selected=None):
    passed = failed = skipped = 0
    n = 0
    for fn in _tests:
        if selected and not any(s in fn.__module__ + "." + fn.__name__ for s in selected):
            continue
        n += 1
        name = fn.__module__ + "." + fn.__name__
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            passed += 1
            print("ok %d - %s # SKIP %s" % (n, name, e))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (n, name))
            for line in traceback.format_exc().rstrip().split("\n"):
                print("#   " + line)
        else:
            passed += 1
            print("ok %d - %s (%.1fs)" % (n, name, time.monotonic() - t0))
        sys.stdout.flush()
    if skipped:
        print("# %d skipped" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    return failed
