"""The peer of one conformance program, and the checker of its results.

Peer.run() connects to the host, names its program, and then follows the
handler in lockstep over the control connection: for step k it waits for
"B k", starts the step's peer action (queued writes with pauses, a
half-close, a reset, reading paused or stopped), answers "G k", and waits
for "E k secs JSON", which Checker.step() holds against the model at the
exact stream position.  One thread per program; every wait is bounded.
"""
import fcntl
import json
import select
import socket
import struct
import termios
import time
import traceback

import known
import model
import payload

STEP_LIMIT = 30.0        # no step of a program takes this long
DRAIN_LIMIT = 20.0       # time for the last bytes to arrive at the end


class Fail(Exception):
    """A program failed: the message says where and how."""


class Known(Fail):
    """A program failed the way a known bug (known.py) does."""

    def __init__(self, bug, msg):
        Fail.__init__(self, msg)
        self.bug = bug


class Hang(Fail):
    pass


# ---- checking ------------------------------------------------------------------

def _b(v):
    """A JSON value back to Lua's (bytes for strings)."""
    if isinstance(v, str):
        return v.encode("latin-1")
    if isinstance(v, list):
        return [_b(x) for x in v]
    if isinstance(v, dict):
        return {"raise": v.get("raise", "")}
    return v


def _show(vals, limit=60):
    def one(v):
        if isinstance(v, bytes):
            return repr(v[:limit]) + ("...(%d bytes)" % len(v) if len(v) > limit else "")
        if isinstance(v, dict):
            return "raise(%r)" % v["raise"]
        if isinstance(v, list):
            return "[" + ", ".join(one(x) for x in v) + "]"
        return "nil" if v is None else repr(v)
    return one(vals)


def classify(vals):
    """The outcome class of a read's or send's values."""
    if isinstance(vals, dict):
        return "raise"
    if not vals:
        return "ok"
    if vals[0] is None:
        return vals[1].decode() if len(vals) > 1 and isinstance(vals[1], bytes) else "nil"
    return "ok"


def lens_of(vals):
    return model.lens(vals)


class Checker:
    """Replays the model along the results: the exact stream position, the
    server's sends as they came out, the canonical transcript."""

    def __init__(self, prog, backend=None):
        self.prog = prog
        self.backend = backend
        self.cur = (None, None)  # the (sub-)op being checked, its values
        self.S = prog["S"]
        self.nls = model.newlines(self.S)
        self.platform = None     # a platform's difference (KNOWN.md) seen in this step
        self.lost = False        # K3 dropped bytes of this stream: later reads differ too
        self.lo = self.hi = 0    # where the handler's reads are (model.Out)
        self.skip = False
        self.sends = []          # [parity, length, how] from the real results
        self.transcript = []
        self.rst = False

    def stream(self, step):
        return model.Stream(self.S, step["slen"], self.nls, step["eof"], step["rst"],
                            step["ml"], step["mr"])

    def fail(self, step, what):
        msg = "op %d %s: %s" % (step["k"], model.describe(step["op"]), what)
        op, vals = self.cur
        bug = known.match(known.Ctx(step, op or step["op"], self.lo, self.stream(step),
                                    vals, self.backend))
        if bug:
            raise Known(bug, msg)
        raise Fail(msg)

    def step(self, step, secs, vals, t_before, slack):
        op = step["op"]
        self.cur = (op, vals)
        kind = op["op"]
        if kind in model.READS:
            cls, lens = self.read(step, op, vals, t_before)
        elif kind == "send":
            cls, lens = self.send(step, op, vals), ""
        elif kind == "par":
            if not isinstance(vals, list) or len(vals) != 2:
                self.fail(step, "got %s" % _show(vals))
            scls = self.send(step, op["send"], vals[0])
            rcls, lens = self.read(step, op["read"], vals[1], t_before)
            cls = scls + "/" + rcls
        elif kind == "reader2":
            if not isinstance(vals, list) or len(vals) != 2:
                self.fail(step, "got %s" % _show(vals))
            self.want_raise(step, vals[1], "another task is already reading")
            rcls, lens = self.read(step, {"op": "recv"}, vals[0], t_before)
            cls, lens = "raise/" + rcls, ""
        elif kind == "sender2":
            if not isinstance(vals, list) or len(vals) != 2:
                self.fail(step, "got %s" % _show(vals))
            self.want_raise(step, vals[1], "another task is already sending")
            cls = "raise/" + self.send(step, op, vals[0])
            lens = ""
        elif kind == "useclosed":
            self.want_raise(step, vals, "attempt to use a closed connection")
            cls, lens = "raise", ""
        else:
            if isinstance(vals, dict):
                self.fail(step, "raised %r" % vals["raise"])
            want = [True] if kind in ("shutdown", "close") else []
            if vals != want:
                self.fail(step, "expected %s, got %s" % (_show(want), _show(vals)))
            cls, lens = "ok", ""
        expect = step["expect"]
        if self.platform:
            self.transcript.append("%d %s -> %s %s (%s)" % (step["k"], model.describe(op), cls,
                                                           lens, self.platform))
            self.platform = None
            return
        if cls != expect and cls not in expect.split("|"):
            self.fail(step, "expected %s, got %s: %s" % (expect, cls, _show(vals)))
        if step["lens"] == "*":
            lens = "*"
        if lens != step["lens"] and "|" not in expect:
            self.fail(step, "expected lengths %s, got %s: %s" % (step["lens"], lens, _show(vals)))
        if cls.endswith("timeout") or cls.startswith("raise:") and cls.endswith("timeout"):
            t = max(t_before, 0.001)
            if secs < t - 0.002 or secs > t + slack:
                self.fail(step, "timed out after %.3f s with a timeout of %g s" % (secs, t_before))
        self.transcript.append("%d %s -> %s %s" % (step["k"], model.describe(op), cls, lens))

    def want_raise(self, step, vals, msg):
        if not isinstance(vals, dict) or msg not in vals["raise"]:
            self.fail(step, "expected an error %r, got %s" % (msg, _show(vals)))

    def read(self, step, op, vals, t_before):
        """Checks a read's values against the model from every position
        the handler may be at ([lo, hi]; one, unless a recv or a dropped
        read("a") left it open), and moves on from those that fit."""
        self.cur = (op, vals)
        st = self.stream(step)
        small = model.is_small(t_before)
        if isinstance(vals, dict):
            self.fail(step, "raised %r" % vals["raise"])
        fits = []
        for p in range(self.lo, self.hi + 1):
            o = model.sim_read(op, p, self.skip, st)
            r = self.fit(op, o, vals, st, small)
            if r:
                fits.append(r)
        if not fits and self.backend == "iocp" and st.rst and not st.eof:
            r = self.fit_lost(op, vals, st)
            if r:
                fits, self.platform, self.lost = [r], "K3", True
        elif fits and self.lost:
            # the reads after K3's loss fit the stream's end, not what the
            # generator wrote down from the bytes that were there
            self.platform = "K3"
        if not fits:
            o = model.sim_read(op, self.lo, self.skip, st)
            where = "at byte %d" % self.lo if self.lo == self.hi else \
                "at byte %d..%d" % (self.lo, self.hi)
            if o.cls == "starve":
                want = "nothing more can come, so a timeout" if small else "to wait"
            elif o.vals is None:
                want = "1..%d bytes of %r" % (o.rmax, bytes(st.S[o.start:o.start + 40]))
            elif op["op"] == "lines":
                want = "lines %s, then %s" % (_show(o.vals), o.end)
            else:
                want = _show(o.vals)
            self.fail(step, "%s: expected %s, got %s" % (where, want, _show(vals)))
        self.lo = min(f[0] for f in fits)
        self.hi = max(f[1] for f in fits)
        self.skip = fits[0][2]
        return fits[0][3], fits[0][4]

    def fit(self, op, o, vals, st, small):
        """(lo, hi, skip, class, lengths) if vals is what o predicts."""
        if op["op"] == "lines":
            return self.fit_lines(o, vals, small)
        if o.cls == "starve":
            if small and vals == [None, b"timeout"]:
                return o.nc, o.nc, o.skip, "timeout", "-"
            return None
        if o.vals is None:  # recv: 1..max bytes, the next ones
            if len(vals) != 1 or not isinstance(vals[0], bytes):
                return None
            d = vals[0]
            if not 1 <= len(d) <= o.rmax or bytes(st.S[o.start:o.start + len(d)]) != d:
                return None
            return o.start + len(d), o.start + len(d), False, "ok", "*"
        if vals != o.vals:
            return None
        return o.nc, o.nc_hi, o.skip, o.cls, model.lens(vals)

    def fit_lost(self, op, vals, st):
        """K3 (KNOWN.md): on Windows a reset from the peer drops what it
        had sent that was not received yet.  So after the peer's reset a
        read may end with "reset" early: what it did return must still be
        the next bytes of the stream; all the rest is gone."""
        done = (st.slen, st.slen, False)
        for p in range(self.lo, self.hi + 1):
            c = model.sim_read({"op": "readn", "n": 1}, p, self.skip, st).start
            S = st.S
            if op["op"] == "lines":
                got = list(vals)
                if len(got) >= 2 and got[-2] is None and got[-1] == b"reset":
                    got, end = got[:-2], "reset"
                elif len(got) == op["k"] and None not in got:
                    end = "k"          # its last line was cut by the reset
                else:
                    return None
                ok = True
                for i, line in enumerate(got):
                    if S.startswith(line + b"\n", c) and c + len(line) < st.slen:
                        c += len(line) + 1
                    elif S.startswith(line + b"\r\n", c) and c + len(line) + 1 < st.slen:
                        c += len(line) + 2
                    elif i == len(got) - 1 and S.startswith(line, c):
                        c += len(line)
                    else:
                        ok = False
                        break
                if ok:
                    cls = "end:%d:reset" % len(got) if end == "reset" else "ok:%d:k" % len(got)
                    return done + (cls, model.lens(got))
                continue
            if len(vals) < 2 or vals[0] is not None or vals[1] != b"reset":
                return None
            if len(vals) == 2 or (len(vals) == 3 and op["op"] != "recv" and
                                  S.startswith(vals[2], c) and c + len(vals[2]) <= st.slen):
                return done + ("reset", model.lens(vals))
        return None

    def fit_lines(self, o, vals, small):
        got = list(vals)
        ended, lasterr = False, None
        if len(got) >= 2 and got[-2] is None:
            ended, lasterr = True, got[-1]
            got = got[:-2]
        if o.cls == "starve":
            if small and ended and not got and lasterr == b"timeout":
                return o.nc, o.nc, o.skip, "timeout", "-"
            return None
        if got != o.vals:
            return None
        if o.end == "k":
            if ended:
                return None
        elif not ended or lasterr != o.end.encode():
            return None
        return o.nc, o.nc_hi, o.skip, model.class_of(o, small), model.lens(got)

    def send(self, step, op, vals):
        self.cur = (op, vals)
        if isinstance(vals, dict):
            self.fail(step, "raised %r" % vals["raise"])
        cls = classify(vals)
        if cls == "ok" and vals != [True]:
            self.fail(step, "expected true, got %s" % _show(vals))
        if cls != "closed":
            self.sends.append([op["p"], op["n"], "ok" if cls == "ok" else "part"])
        return cls


# ---- the peer --------------------------------------------------------------------

class Peer:
    def __init__(self, seed, prog, addr, ctlq, slack=2.0, backend=None):
        self.seed = seed
        self.prog = prog
        self.addr = addr
        self.ctlq = ctlq          # the dispatcher's queue for "H <seed>"
        self.slack = slack
        self.chk = Checker(prog, backend)
        self.known = None         # the known bug the program ran into
        self.sock = None
        self.ctl = None
        self.ctl_in = bytearray()
        self.wq = []              # writer items still to do
        self.wbuf = b""
        self.wake_at = 0.0
        self.reading = True
        self.resume_at = None
        self.rx = bytearray()
        self.r_eof = False
        self.r_err = None
        self.gone = False         # we reset or closed our socket
        self.rst_wait = None      # since when a reset waits for its bytes to go
        self.probe = None         # probe_rba, for the probe that uses it

    # ---- sockets ----
    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a small receive buffer before connecting (the window scale is
        # chosen then): a peer that stops reading fills up soon
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(10)
        s.connect(self.addr)
        s.sendall(b"P %s\n" % str(self.seed).encode())
        s.setblocking(False)
        self.sock = s

    def close(self):
        for s in (self.sock, self.ctl):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    # ---- the event loop ----
    def pump(self, until, limit, what):
        deadline = time.monotonic() + limit
        while not until():
            now = time.monotonic()
            if now > deadline:
                raise Hang("no %s within %g s" % (what, limit))
            self.write_some(now)
            if self.resume_at is not None and now >= self.resume_at:
                self.reading, self.resume_at = True, None
            if until():
                break
            p = select.poll()
            if self.ctl is not None:
                p.register(self.ctl, select.POLLIN)
            ev = 0
            if not self.gone:
                if self.reading and not self.r_eof and self.r_err is None:
                    ev |= select.POLLIN
                if self.wbuf:
                    ev |= select.POLLOUT
                if ev:
                    p.register(self.sock, ev)
            wait = deadline - now
            if self.wq and not self.wbuf:
                wait = min(wait, max(0.0, self.wake_at - now))
            if self.resume_at is not None:
                wait = min(wait, max(0.0, self.resume_at - now))
            for fd, e in p.poll(max(0, int(wait * 1000)) if wait > 0 else 0):
                if self.ctl is not None and fd == self.ctl.fileno():
                    self.read_ctl()
                elif e & (select.POLLIN | select.POLLERR | select.POLLHUP) and ev & select.POLLIN:
                    self.read_data()
                if not self.gone and fd == self.sock.fileno() and e & select.POLLOUT:
                    self.write_some(time.monotonic())

    def read_ctl(self):
        try:
            d = self.ctl.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError as e:
            raise Fail("control connection: %s" % e)
        if not d:
            raise Fail("the host closed the control connection")
        self.ctl_in += d

    def read_data(self):
        for _ in range(64):
            try:
                d = self.sock.recv(1 << 18)
            except BlockingIOError:
                return
            except OSError as e:
                self.r_err = e
                return
            if not d:
                self.r_eof = True
                return
            self.rx += d

    def write_some(self, now):
        while not self.gone:
            if self.wbuf:
                try:
                    n = self.sock.send(self.wbuf)
                except BlockingIOError:
                    return
                except OSError as e:
                    raise Fail("peer send: %s" % e)
                self.wbuf = self.wbuf[n:]
                if self.wbuf:
                    return
                continue
            if not self.wq or now < self.wake_at:
                return
            if self.wq[0][0] == "rst" and self.unacked() > 0:
                # a reset drops what the kernel has not delivered yet: the
                # bytes written before it must be the host's first
                self.rst_wait = self.rst_wait or now
                if now - self.rst_wait > STEP_LIMIT / 3:
                    raise Fail("the peer's bytes were not taken by the host before its reset")
                self.wake_at = now + 0.005
                return
            item = self.wq.pop(0)
            if item[0] == "w":
                self.wbuf = item[1]
            elif item[0] == "sleep":
                self.wake_at = now + item[1]
            elif item[0] == "hc":
                self.sock.shutdown(socket.SHUT_WR)
            elif item[0] == "rst":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.sock.close()
                self.gone = True
                self.chk.rst = True

    def unacked(self):
        """Bytes written to the socket that the host's kernel has not
        acknowledged yet (SIOCOUTQ)."""
        buf = fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return struct.unpack("i", buf)[0]

    def writes_done(self):
        return self.gone or (not self.wq and not self.wbuf)

    def ctl_line(self, what):
        def have():
            return b"\n" in self.ctl_in
        self.pump(have, STEP_LIMIT, what)
        i = self.ctl_in.index(b"\n")
        line = bytes(self.ctl_in[:i])
        del self.ctl_in[:i + 1]
        return line.decode("latin-1")

    # ---- one program ----
    def run(self):
        try:
            self.connect()
            try:
                self.ctl = self.ctlq.get(timeout=20)
            except Exception:
                raise Fail("the handler never connected to the control port")
            self.ctl.setblocking(False)
            for step in self.prog["steps"]:
                self.one(step)
            self.finish()
            return None
        except Known as e:
            self.known = e.bug
            return str(e)
        except Fail as e:
            return str(e)
        except Exception:
            return "internal error of the test:\n" + traceback.format_exc()
        finally:
            self.close()

    def one(self, step):
        k = step["k"]
        line = self.ctl_line("B %d" % k)
        if line != "B %d" % k:
            raise Fail("op %d: control: expected 'B %d', got %r" % (k, k, line))
        # the last step's writes, half-close or reset are all done before
        # this step starts: what happens during step k is step k's action
        self.pump(self.writes_done, STEP_LIMIT, "end of the peer's writes")
        stop = False
        pclose = False
        note = None
        t_before = self.timeout_before(step)
        for a in step["peer"]:
            if a[0] in ("w", "sleep", "hc", "rst"):
                self.wq.append(a)
            elif a[0] == "rstop":
                self.reading, self.resume_at, stop = False, None, True
            elif a[0] == "rhold":
                self.reading, self.resume_at = False, None  # until a later rstop ends
            elif a[0] == "rba":
                note = self.probe(a[1])
            elif a[0] == "rpause":
                self.reading, self.resume_at = False, time.monotonic() + a[1]
            elif a[0] == "pclose":
                pclose = True
        self.ctl.setblocking(True)
        self.ctl.sendall(b"G %d\n" % k)
        self.ctl.setblocking(False)
        line = self.ctl_line("end of op %d %s" % (k, model.describe(step["op"])))
        parts = line.split(" ", 3)
        if len(parts) != 4 or parts[0] != "E" or parts[1] != str(k):
            raise Fail("op %d: control: expected 'E %d ...', got %r" % (k, k, line[:200]))
        if stop or self.resume_at is not None:
            # a pause belongs to its step: reading goes on when it ends
            self.reading, self.resume_at = True, None
        secs = float(parts[2])
        vals = _b(json.loads(parts[3]))
        self.chk.step(step, secs, vals, t_before, self.slack)
        if note:
            self.chk.transcript[-1] += " (%s)" % note
        if pclose:
            self.pump(self.writes_done, STEP_LIMIT, "end of the peer's writes")
            self.drain("before closing")
            self.sock.close()
            self.gone = True

    def timeout_before(self, step):
        steps = self.prog["steps"]
        i = step["k"] - 1
        return steps[i - 1]["t"] if i > 0 else None

    def complete(self):
        """Every byte of the sends so far is here: those that returned
        true, and the last one returned true (after one that timed out,
        only the next send that returns true says where it ended)."""
        err, done = payload.parse_s2p(bytes(self.rx), self.chk.sends)
        if err:
            raise Fail("the bytes the peer received: " + err)
        return done and (not self.chk.sends or self.chk.sends[-1][2] == "ok")

    def drain(self, when):
        """Reads until every byte of the server's sends so far is here (or
        the server shut down its side)."""
        last = [-1]

        def done():
            if self.r_eof or self.r_err is not None:
                return True
            if len(self.rx) == last[0]:
                return False
            last[0] = len(self.rx)
            return self.complete()
        self.reading, self.resume_at = True, None
        self.pump(done, DRAIN_LIMIT, "complete data from the server %s" % when)

    def finish(self):
        line = self.ctl_line("F")
        if line != "F":
            raise Fail("control: expected 'F' after the last op, got %r" % line[:200])
        if not self.gone:
            self.pump(self.writes_done, STEP_LIMIT, "end of the peer's writes")
            self.drain("at the end")
        self.ctl.setblocking(True)
        self.ctl.sendall(b"Z\n")
        self.ctl.close()          # the handler closes its end now
        self.ctl = None
        if not self.gone:
            self.pump(lambda: self.r_eof or self.r_err is not None, DRAIN_LIMIT,
                      "end of stream after the handler returned")
        err, done = payload.parse_s2p(bytes(self.rx), self.chk.sends)
        if err:
            raise Fail("the bytes the peer received: " + err)
        if not done and not self.chk.rst:
            raise Fail("the peer received %d bytes: sends that returned true are missing bytes"
                       % len(self.rx))
