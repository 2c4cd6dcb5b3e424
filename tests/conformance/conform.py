#!/usr/bin/env python3
"""Differential conformance test of the host's connection API.

  conform.py run --host-cmd CMD [--backend NAME] [--wine] [SEEDS...]
  conform.py show SEED                 the program of a seed, and what the
                                       model expects of each step
  conform.py compare DIR DIR...        the transcripts `run --save DIR`
                                       kept, backend against backend

SEEDS: N (seeds 1..N), A-B, single numbers, `ci` (the fixed CI set) or
`probes` (the cases of known differences); default `ci`.

For each seed model.py generates a program: the handler's operations on
one connection, and the peer's action during each.  One host process
(per batch of seeds) runs handler.lua with every program of the batch;
the programs run in parallel, one connection each, each in lockstep with
its Python peer over a control connection (peer.py).  Every result is
checked against the model at the exact stream position; a failure prints
the seed, the first operation whose result is wrong, what the model
expected and what the host returned, and the backend.  Each passing
program's transcript (the outcome class and lengths of every step, with
nothing that depends on timing or on how the network chunked the bytes)
is what the model predicted, so it is the same on every backend; the
probes, which allow more than one outcome, are compared by `compare`.

Output: one "ok N - seed S" / "not ok N - seed S: ..." line per program,
then "N passed, N failed".  Exit status 1 if anything failed.
"""
import argparse
import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import known  # noqa: E402
import model  # noqa: E402
import peer as peermod  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CI_SEEDS = 130           # the fixed set: seeds 1..CI_SEEDS, and the probes
PROBES = ["probe-sendfull", "probe-rba"]

# Known differences between backends (KNOWN.md): what compare reports as
# known instead of as a failure.  (program, op) -> why.
KNOWN = {
    ("probe-sendfull", 3): "K1: a 5-byte send to a full socket after a send timed out",
    ("probe-rba", 1): "K2: connections reset before accept",
}


# ---- programs ----------------------------------------------------------------------

def build(seed, strict=False):
    """The program of a seed: {"steps": [...], "S": the peer's bytes}.
    Unless strict, it steers around the bugs in known.AVOID."""
    if isinstance(seed, str) and seed.startswith("probe-"):
        return probe_program(seed)
    g = model.Gen(seed, avoid=() if strict else known.AVOID)
    steps = g.program()
    return {"steps": steps, "S": bytes(g.S)}


def probe_program(name):
    g = model.Gen(0, nops=0)
    if name == "probe-sendfull":
        # K1: after a send timed out on a full socket (the peer reads
        # nothing meanwhile), a 5-byte send.
        big = 8 << 20
        g.commit({"op": {"op": "settimeout", "t": 0.3}, "peer": [], "expect": "ok",
                  "lens": "", "_timeout": 0.3})
        g.commit({"op": {"op": "send", "p": 0, "n": big, "cuts": []}, "peer": [["rhold"]],
                  "expect": "timeout", "lens": "", "_send": ("timeout", [])})
        g.commit({"op": {"op": "send", "p": 1, "n": 5, "cuts": []}, "peer": [["rstop"]],
                  "expect": "ok|timeout", "lens": "", "_send": ("timeout", [])})
        g.commit({"op": {"op": "settimeout", "t": None}, "peer": [], "expect": "ok",
                  "lens": "", "_timeout": None})
        g.commit({"op": {"op": "send", "p": 0, "n": 7, "cuts": []}, "peer": [],
                  "expect": "ok", "lens": "", "_send": ("ok", [])})
        g.commit({"op": {"op": "recv"}, "peer": [["w", b"after"]], "expect": "ok",
                  "lens": "*", "_apply": (b"after", False, False, 1, 5, False, [])})
    elif name == "probe-rba":
        # K2: the driver resets connections to the probe listener before
        # the host accepts them (peer.py's probe_rba); the step only gives
        # the probe a place in the lockstep.
        g.commit({"op": {"op": "sleep", "s": 0}, "peer": [["rba", 5]], "expect": "ok",
                  "lens": ""})
    else:
        raise SystemExit("no such probe: %s" % name)
    for k, s in enumerate(g.steps):
        s["k"] = k + 1
    return {"steps": g.steps, "S": bytes(g.S)}


def lua_value(v):
    if v is None:
        return "false"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "{" + ",".join(lua_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ",".join("%s=%s" % (k, lua_value(x)) for k, x in v.items()) + "}"
    raise TypeError(type(v))


def max_send(op):
    if op["op"] == "par":
        return op["send"]["n"]
    return op.get("n", 0) if op["op"] in ("send", "sender2") else 0


def write_programs(path, progs):
    """The programs as handler.lua reads them: the ops of each, and the
    longest send (its payloads are built before it serves)."""
    big = max([max_send(s["op"]) for p in progs.values() for s in p["steps"]] + [0])
    with open(path, "w") as f:
        f.write("return { maxsend = %d, programs = {\n" % big)
        for seed, prog in progs.items():
            f.write("[%s]={%s},\n" % (json.dumps(str(seed)),
                                      ",".join(lua_value(s["op"]) for s in prog["steps"])))
        f.write("} }\n")


# ---- the control port ----------------------------------------------------------------

class Control:
    """Accepts the handlers' control connections and hands each to the
    peer that waits for its program's id ("H <id>" is the first line)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.queues = {}
        self.probes = queue.Queue()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def queue(self, seed):
        with self.lock:
            return self.queues.setdefault(str(seed), queue.Queue())

    def loop(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.hello, args=(s,), daemon=True).start()

    def hello(self, s):
        s.settimeout(10)
        line = b""
        try:
            while not line.endswith(b"\n") and len(line) < 1 << 20:
                d = s.recv(1)
                if not d:
                    break
                line += d
        except OSError:
            s.close()
            return
        text = line.decode("latin-1").rstrip("\n")
        if text.startswith("H probe "):
            self.probes.put(text[len("H probe "):])
            s.close()
        elif text.startswith("H "):
            self.queue(text[2:]).put(s)
        else:
            s.close()

    def close(self):
        self.sock.close()


# ---- the host ------------------------------------------------------------------------

class Host:
    def __init__(self, cmd, backend, workers, progfile, ctl):
        keep = os.environ.get("CONFORM_HOST_LOG")
        self.errf = open(keep, "w+b") if keep else tempfile.TemporaryFile()
        args = list(cmd)
        if backend:
            args += ["--backend", backend]
        args += shlex.split(os.environ.get("CONFORM_HOST_ARGS", ""))
        args += ["--workers", str(workers), os.path.join(HERE, "handler.lua"), progfile, ctl.addr]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errf, preexec_fn=_die_with_parent)
        self.lines = queue.Queue()
        threading.Thread(target=self.read_stdout, daemon=True).start()
        try:
            first = self.lines.get(timeout=60)
        except queue.Empty:
            first = None
        if not first:
            self.stop()
            raise RuntimeError("the host did not start: %s" % self.stderr_tail())
        main, probe = first.split()
        self.addr = _addr(main)
        self.probe_addr = _addr(probe)

    def read_stdout(self):
        for line in self.proc.stdout:
            self.lines.put(line.decode("latin-1").strip())
        self.lines.put(None)

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self, n=25):
        self.errf.seek(0)
        text = self.errf.read().decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if "INFO" not in ln]
        return "\n".join(lines[-n:])

    def stop(self):
        """Stops it (SIGINT: Ctrl-C under Wine); its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                return "hung on stop"
        return self.proc.returncode


def _die_with_parent():
    """In the child: SIGKILL when the driver dies, however it dies (a
    suite's time limit ends with SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _addr(text):
    h, p = text.rsplit(":", 1)
    return (h, int(p))


# ---- running ---------------------------------------------------------------------------

class Runner:
    def __init__(self, a):
        self.cmd = shlex.split(a.host_cmd)
        self.backend = a.backend
        self.label = a.backend or ("iocp" if a.wine else "auto")
        self.workers = a.workers
        self.jobs = a.jobs
        self.batch = a.batch
        self.slack = 6.0 if a.wine else 2.0
        self.save = a.save
        self.strict = a.strict
        self.n = 0
        self.passed = self.failed = 0
        self.known = {}           # bug -> the seeds that ran into it
        self.out_lock = threading.Lock()
        self.tmp = tempfile.mkdtemp(prefix="host-conform-")

    def report(self, seed, err, prog, secs, bug=None):
        with self.out_lock:
            self.n += 1
            if err is None:
                self.passed += 1
                print("ok %d - seed %s (%d ops, %.1f s)" % (self.n, seed, len(prog["steps"]), secs))
            elif bug and not self.strict:
                self.passed += 1
                self.known.setdefault(bug, []).append(seed)
                print("not ok %d - seed %s [%s]: %s # TODO known %s (KNOWN.md)" %
                      (self.n, seed, self.label, err, bug))
            else:
                self.failed += 1
                print("not ok %d - seed %s [%s]: %s" % (self.n, seed, self.label, err))
                print("#   the program: python3 tests/conformance/conform.py show %s" % seed)
            sys.stdout.flush()

    def run(self, seeds):
        t0 = time.monotonic()
        ctl = Control()
        try:
            for i in range(0, len(seeds), self.batch):
                self.run_batch(seeds[i:i + self.batch], ctl)
        finally:
            ctl.close()
        for bug in sorted(self.known):
            seeds = self.known[bug]
            print("# known %s (not counted as failed): %d programs, seeds %s" %
                  (bug, len(seeds), " ".join(str(x) for x in seeds[:20])))
        print("# %s: %d programs in %.1f s" % (self.label, self.n, time.monotonic() - t0))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return self.failed == 0

    def run_batch(self, seeds, ctl):
        progs = {s: build(s, self.strict) for s in seeds}
        path = os.path.join(self.tmp, "programs.lua")
        write_programs(path, progs)
        todo = list(seeds)
        failed0 = self.bad()
        while todo:
            try:
                host = Host(self.cmd, self.backend, self.workers, path, ctl)
            except RuntimeError as e:
                for s in todo:
                    self.report(s, str(e), progs[s], 0)
                return
            done = []
            crashed = []

            def one(seed):
                if not host.alive():
                    crashed.append(seed)
                    return
                t = time.monotonic()
                p = peermod.Peer(seed, progs[seed], host.addr, ctl.queue(seed), self.slack,
                                 self.label)
                if any(a[0] == "rba" for st in progs[seed]["steps"] for a in st["peer"]):
                    p.probe = lambda n: probe_rba(host, ctl, n)
                err = p.run()
                if err is not None and not host.alive():
                    crashed.append(seed)
                    err = "%s; the host died (exit %s):\n%s" % (err, host.proc.returncode,
                                                               _indent(host.stderr_tail()))
                if err is None and self.save:
                    self.keep(seed, p.chk.transcript)
                done.append(seed)
                self.report(seed, err, progs[seed], time.monotonic() - t, p.known)

            try:
                with ThreadPoolExecutor(self.jobs) as ex:
                    list(ex.map(one, todo))
            finally:
                status = host.stop()
            todo = [s for s in todo if s not in done]
            tail = host.stderr_tail()
            if status != 0 and not todo:
                with self.out_lock:
                    self.n += 1
                    self.failed += 1
                    print("not ok %d - host exit [%s]: exit status %s after seeds %s..%s\n%s" %
                          (self.n, self.label, status, seeds[0], seeds[-1], _indent(tail)))
            elif "ERROR" in tail and not todo and self.bad() > failed0:
                with self.out_lock:
                    print("# host errors logged in this batch:\n" + _indent(tail))

    def bad(self):
        """Programs that failed so far, known bugs included."""
        return self.failed + sum(map(len, self.known.values()))

    def keep(self, seed, transcript):
        os.makedirs(self.save, exist_ok=True)
        with open(os.path.join(self.save, "%s.txt" % seed), "w") as f:
            f.write("\n".join(transcript) + "\n")


def probe_rba(host, ctl, n):
    """n connections to the probe listener, each reset at once (before the
    host can have accepted it), then one that says hello.  Returns the
    transcript line; raises Fail if something is wrong."""
    while not ctl.probes.empty():
        ctl.probes.get()
    for _ in range(n):
        s = socket.socket()
        s.connect(host.probe_addr)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    time.sleep(0.2)
    hello = socket.create_connection(host.probe_addr, timeout=10)
    hello.sendall(b"hello")
    reports = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        try:
            reports.append(json.loads(ctl.probes.get(timeout=0.2)))
        except queue.Empty:
            pass
    hello.close()
    seen = [r for r in reports if r != ["hello"]]
    if ["hello"] not in reports:
        raise peermod.Fail("the probe listener's hello connection was not served: %s" % reports)
    bad = [r for r in seen if r not in ([None, "reset"], [None, "closed"])]
    if bad or len(seen) > n:
        raise peermod.Fail("connections reset before accept: %d of %d reached the handler, "
                           "with %s" % (len(seen), n, reports))
    return "%d of %d reached the handler" % (len(seen), n)


def _indent(text):
    return "\n".join("#   " + ln for ln in text.splitlines())


def parse_seeds(specs):
    seeds = []
    for spec in specs or ["ci"]:
        if spec == "ci":
            seeds += list(range(1, CI_SEEDS + 1)) + PROBES
        elif spec == "probes":
            seeds += PROBES
        elif spec.startswith("probe-"):
            seeds.append(spec)
        elif "-" in spec:
            a, b = spec.split("-")
            seeds += list(range(int(a), int(b) + 1))
        elif spec.startswith("+"):
            seeds.append(int(spec[1:]))
        else:
            seeds += list(range(1, int(spec) + 1))
    return seeds


# ---- show and compare ------------------------------------------------------------------

def show(seed, strict=False):
    prog = build(int(seed) if seed.isdigit() else seed, strict)
    print("# seed %s: %d steps; the peer sends %d bytes in all" %
          (seed, len(prog["steps"]), len(prog["S"])))
    for s in prog["steps"]:
        acts = []
        for a in s["peer"]:
            if a[0] == "w":
                acts.append("write %r" % (a[1][:40] + (b"..." if len(a[1]) > 40 else b""))
                            if len(a[1]) < 200 else "write %d bytes" % len(a[1]))
            else:
                acts.append(" ".join(str(x) for x in a))
        print("%3d %-44s -> %-16s %s" % (s["k"], model.describe(s["op"]), s["expect"], s["lens"]))
        if acts:
            print("      peer: " + "; ".join(acts))
    print("# Lua of the program: %s" % lua_value([s["op"] for s in prog["steps"]]))


def compare(dirs):
    """Transcripts of the same seed must be equal in every directory."""
    names = sorted(set().union(*[set(os.listdir(d)) for d in dirs]))
    failed = passed = 0
    for name in names:
        texts = []
        for d in dirs:
            p = os.path.join(d, name)
            texts.append(open(p).read().splitlines() if os.path.exists(p) else None)
        have = [(d, t) for d, t in zip(dirs, texts) if t is not None]
        if len(have) < 2:
            continue
        base_d, base = have[0]
        bad = None
        for d, t in have[1:]:
            for i in range(max(len(base), len(t))):
                a = base[i] if i < len(base) else "(none)"
                b = t[i] if i < len(t) else "(none)"
                if a != b:
                    bad = (i + 1, base_d, a, d, b)
                    break
            if bad:
                break
        seed = name[:-4]
        if not bad:
            passed += 1
            print("ok - seed %s: the same on %d backends" % (seed, len(have)))
            continue
        known = KNOWN.get((seed, bad[0]))
        if not known and ("(K3)" in bad[2] or "(K3)" in bad[4]):
            known = "K3: a reset from the peer drops what it had sent (IOCP)"
        if known:
            passed += 1
            print("ok - seed %s # known difference (%s) at op %d: %s: %s / %s: %s" %
                  ((seed, known) + bad))
        else:
            failed += 1
            print("not ok - seed %s: op %d differs: %s: %s / %s: %s" % ((seed,) + bad))
    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


def main():
    # SIGTERM (a suite's time limit) ends the run through the finally
    # clauses, which stop the host processes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--host-cmd", required=True, help="command that runs the host")
    r.add_argument("--backend", help="--backend for the host")
    r.add_argument("--wine", action="store_true", help="the host runs under Wine (IOCP)")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--jobs", type=int, default=24, help="programs run at once")
    r.add_argument("--batch", type=int, default=200, help="programs per host process")
    r.add_argument("--save", help="keep each passing program's transcript in this directory")
    r.add_argument("--strict", action="store_true",
                   help="known bugs (known.py, KNOWN.md) fail too, and are not steered around")
    r.add_argument("seeds", nargs="*")
    s = sub.add_parser("show")
    s.add_argument("--strict", action="store_true")
    s.add_argument("seed")
    c = sub.add_parser("compare")
    c.add_argument("dirs", nargs="+")
    a = p.parse_args()
    if a.cmd == "show":
        show(a.seed, a.strict)
        return 0
    if a.cmd == "compare":
        return 0 if compare(a.dirs) else 1
    return 0 if Runner(a).run(parse_seeds(a.seeds)) else 1


if __name__ == "__main__":
    sys.exit(main())
