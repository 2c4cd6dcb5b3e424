"""The conformance model: what one connection's operations must return.

A program is a list of steps; each step is one operation of the handler
on its connection (recv, read, lines, send, settimeout, ...) and the
peer's action while that operation runs (send bytes in pieces, stall,
half-close, reset, stop reading...).  The generator (Gen) builds a
program from a seed and predicts, with this model, the outcome of every
step; the checker replays the model against what the host really
returned.

Reads depend on how the network chunked the bytes (recv returns "what has
arrived"), so the model does not know the exact stream position after a
recv: it keeps an interval [lo, hi] of positions, and the generator only
emits a step whose outcome class (ok / closed / reset / timeout / too
long) is the same for every position in the interval.  The checker sees
the bytes, so it mostly knows the exact position and checks the data
exactly; where it cannot (after read("a") dropped what was buffered) it
keeps an interval too and narrows it with the next read.

Timing is made irrelevant by construction: an operation with a small
timeout (0 .. 0.2 s) is only emitted when nothing the peer will send can
satisfy it (so it must time out), and an operation without a timeout or
with a large one (5 s) only when the peer's action does satisfy it (so
it must not).  The one exception: a send of at most 300 bytes with a
0.1-0.2 s timeout to a peer that reads is expected to succeed.

The model states the contract (README), not the implementation: a line
of maxline bytes and its CR LF is not "too long", however the bytes were
split; a line over maxline is dropped up to its end of line.
"""
import bisect
import random

# ---- outcomes of reads ---------------------------------------------------------

class Out:
    """One read's outcome from one stream position.

    cls: ok, closed, reset, too long, starve (would wait for more);
    vals: the Lua values it returns (bytes for strings), or None for a
    recv, whose length depends on chunking (then rmax bounds it);
    start: where its data begins (after a dropped too-long line);
    nc .. nc_hi: the position afterwards (a range: recv, and read("a")
    over maxread, which drops what happened to be buffered); skip: the
    rest of a too-long line is still to be dropped; lines: lines() got
    that many; end: why lines() ended ("k": it was called k times)."""
    __slots__ = ("cls", "vals", "start", "nc", "nc_hi", "skip", "rmax", "lines", "end")

    def __init__(self, cls, vals=None, start=0, nc=0, nc_hi=None, skip=False, rmax=0,
                 lines=None, end=None):
        self.cls, self.vals, self.start, self.nc = cls, vals, start, nc
        self.nc_hi = nc if nc_hi is None else nc_hi
        self.skip, self.rmax, self.lines, self.end = skip, rmax, lines, end


class Stream:
    """What the peer has sent (the first slen bytes of S), whether it
    half-closed or reset after them, and the connection's limits.  nls:
    the positions of every "\n" in S, ascending (S may go on past slen;
    it is the whole program's stream, shared by every step)."""

    def __init__(self, S, slen, nls, eof, rst, ml, mr):
        self.S, self.slen, self.nls = S, slen, nls
        self.eof, self.rst, self.ml, self.mr = eof, rst, ml, mr

    def end_err(self):
        return "closed" if self.eof else "reset" if self.rst else None

    def next_nl(self, c):
        """The first "\n" at or after c that has been sent, or -1."""
        i = bisect.bisect_left(self.nls, c)
        if i < len(self.nls) and self.nls[i] < self.slen:
            return self.nls[i]
        return -1


def newlines(S, start=0, into=None):
    """Appends the positions of the "\n" in S[start:] to into."""
    into = [] if into is None else into
    i = S.find(b"\n", start)
    while i >= 0:
        into.append(i)
        i = S.find(b"\n", i + 1)
    return into


def sim_read(op, c, skip, st):
    """The outcome of one read op from position c (see Out); skip: a
    too-long line's rest is to be dropped first."""
    if skip:
        nl = st.next_nl(c)
        if nl >= 0:
            c, skip = nl + 1, False
        else:
            c = st.slen        # all dropped so far, and more will be
    kind = op["op"]
    if kind == "lines":
        return sim_lines(op["k"], c, skip, st)
    if kind == "readl":
        return sim_line(op.get("fmt") or "l", c, skip, st)
    S, n_all = st.S, st.slen
    avail = n_all - c
    err = st.end_err()
    if kind == "recv":
        mx = op.get("max") or 65536
        if avail > 0:
            return Out("ok", None, c, c + 1, c + min(mx, avail), rmax=mx)
        if err:
            return Out(err, [None, err.encode()], c, c, skip=skip)
        return Out("starve", start=c, nc=c, skip=skip)
    if kind == "readn":
        n = op["n"]
        if avail >= n:
            return Out("ok", [bytes(S[c:c + n])], c, c + n)
        if err:
            return Out(err, [None, err.encode()] + ([bytes(S[c:n_all])] if avail else []), c,
                       n_all, skip=skip)
        return Out("starve", start=c, nc=c, skip=skip)
    if kind == "reada":
        if avail > st.mr:
            # what was buffered is dropped: at least maxread + 1 bytes
            return Out("too long", [None, b"too long"], c, c + st.mr + 1, n_all)
        if st.eof:
            return Out("ok", [bytes(S[c:n_all])], c, n_all, skip=skip)
        if st.rst:
            return Out("reset", [None, b"reset"] + ([bytes(S[c:n_all])] if avail else []), c,
                       n_all, skip=skip)
        return Out("starve", start=c, nc=c, skip=skip)
    raise ValueError(kind)


def sim_line(fmt, c, skip, st):
    """read("l") / read("L"); a line over maxline is dropped to its end
    (also when that end arrives later: skip)."""
    S = st.S
    nl = st.next_nl(c)
    if nl >= 0:
        line = bytes(S[c:nl])
        cut = line[:-1] if line.endswith(b"\r") else line
        if len(cut) > st.ml:
            return Out("too long", [None, b"too long"], c, nl + 1)
        return Out("ok", [line + b"\n" if fmt == "L" else cut], c, nl + 1)
    rem = bytes(S[c:st.slen])
    # without its end of line yet: too long once it can no longer be a
    # line of at most maxline bytes (a last "\r" may be its end's start)
    held = len(rem) - (1 if rem.endswith(b"\r") else 0)
    if held > st.ml:
        return Out("too long", [None, b"too long"], c, st.slen, skip=True)
    err = st.end_err()
    if err:
        return Out(err, [None, err.encode()] + ([rem] if rem else []), c, st.slen, skip=skip)
    return Out("starve", start=c, nc=c, skip=skip)


def sim_lines(k, c, skip, st):
    """conn:lines() called up to k times: lines until it returns nil, at
    the end of the stream (a last unterminated line counts) or at any
    failure (reset, too long, timeout), whose word conn.lasterror keeps."""
    lines = []
    start = c
    while len(lines) < k:
        o = sim_line("l", c, skip, st)
        if o.cls == "ok":
            lines.append(o.vals[0])
            c = o.nc
        elif o.cls in ("closed", "reset"):
            c = o.nc
            if len(o.vals) == 3:
                lines.append(o.vals[2])
                continue
            return Out("end", lines, start, c, skip=o.skip, lines=len(lines), end=o.cls)
        elif o.cls == "starve":
            return Out("starve", lines, start, c, skip=o.skip, lines=len(lines), end="timeout")
        else:  # too long: that line is dropped, and lines() ends
            return Out("end", lines, start, o.nc, skip=o.skip, lines=len(lines), end=o.cls)
        skip = False
    return Out("ok", lines, start, c, lines=len(lines), end="k")


READS = ("recv", "readn", "readl", "reada", "lines")


def taken_by(op, o, c):
    """How far the host has surely taken the stream from its kernel after
    read op from c with outcome o: where the read left it (o.nc), but
    only c for a line that was too long (or whose rest is still to be
    dropped).  The host drops such a line's rest as later reads pull it
    in, so a read that says "too long" has taken only what it had
    buffered, however far ahead the line's end (the model's position)
    is: after read("a") over maxread dropped a buffer's worth, that can
    be most of what the peer sent (KNOWN.md, G1)."""
    if o.skip or o.end == "too long" or (o.cls == "too long" and op["op"] != "reada"):
        return c
    return o.nc


def class_of(o, timeout_small):
    """The outcome class of a read that sees outcome o, for the step's
    timeout (small: it ends the wait).  None: would wait forever."""
    if o.cls == "starve":
        if timeout_small:
            return "timeout"
        return None
    if o.lines is not None:
        return "%s:%d:%s" % (o.cls, o.lines, o.end)
    return o.cls


# ---- the generator -------------------------------------------------------------

SMALL = (0.05, 0.1, 0.2)
LARGE = 5.0
BIG_MIN = 6 << 20          # more than the send and receive buffers hold
STALL = 0.3                # a peer's stall: longer than any small timeout
RST_UNREAD = 16 << 10      # at most this much not taken when the peer resets
LINE_CHARS = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-_"


def tdesc(t):
    return "nil" if t is None else "%g" % t


def is_small(t):
    return t is not None and t < 1


class Gen:
    """Builds one program (a list of steps) from a seed, tracking the model."""

    def __init__(self, seed, nops=None, avoid=()):
        self.r = random.Random(seed)
        self.avoid = set(avoid)    # known bugs to steer around (known.py)
        self.seed = seed
        self.S = bytearray()
        self.nls = []              # positions of the "\n" in S
        self.lo = self.hi = 0      # where the handler's reads are (see Out)
        self.taken = 0             # what the host surely took from its kernel
        self.skip = False          # a too-long line's rest is to be dropped
        self.eof = self.rst = self.pclosed = False
        self.T = None
        self.ml, self.mr = 65536, 16 << 20
        self.sends = []            # [parity, length, how]
        self.wdirty = False        # the last send timed out
        self.sshut = self.closed = False
        self.steps = []
        self.nops = nops if nops is not None else self.r.randint(6, 28)

    # ---- helpers ----
    def st(self, S=None, eof=None, rst=None):
        """The stream as a step sees it: self.S, or S (self.S and more)."""
        if S is None:
            S, nls = self.S, self.nls
        else:
            nls = newlines(S, len(self.S), list(self.nls))
        return Stream(S, len(S), nls, self.eof if eof is None else eof,
                      self.rst if rst is None else rst, self.ml, self.mr)

    def text(self, n):
        r = self.r
        return bytes(r.choice(LINE_CHARS) for _ in range(n))

    def line(self):
        r = self.r
        roll = r.random()
        if roll < 0.3 and self.ml < 200:
            n = self.ml + r.choice((-1, 0, 0, 1, 2))   # around the limit
        elif roll < 0.5:
            n = r.randint(0, 3)
        else:
            n = r.randint(0, 120)
        n = max(0, n)
        body = bytearray(self.text(n))
        if n and r.random() < 0.1:
            body[r.randrange(n)] = 13                  # a lone "\r" inside
        return bytes(body) + (b"\r\n" if r.random() < 0.4 else b"\n")

    def pieces(self, data):
        """Splits data into writes with short gaps; often right after a
        "\\r" so that "\\r" and "\\n" arrive apart."""
        r = self.r
        if not data:
            return []
        cuts = set()
        for i in range(len(data) - 1):
            if data[i] == 13 and r.random() < 0.5:
                cuts.add(i + 1)
        for _ in range(r.choice((0, 0, 1, 2, 4))):
            cuts.add(r.randint(1, len(data)))
        acts = []
        prev = 0
        for cut in sorted(cuts) + [len(data)]:
            if cut <= prev:
                continue
            if acts:
                acts.append(["sleep", r.choice((0, 0.002, 0.01, 0.02))])
            acts.append(["w", bytes(data[prev:cut])])
            prev = cut
        return acts

    def reads_over(self, op, st, small):
        """The outcome of a read from every position in [lo, hi]: (class,
        new lo, new hi, lengths, skip, taken: see taken_by), or None if the
        class differs between positions, or the read would race with its
        timer or hang."""
        cls = skip = None
        nlo, nhi, taken = None, None, None
        lens = set()
        for c in range(self.lo, self.hi + 1):
            o = sim_read(op, c, self.skip, st)
            k = class_of(o, small)
            if k is None or (k == "timeout" and o.lines):
                return None  # would hang, or lines() got some lines first
            if small and k != "timeout":
                return None  # satisfied: would race with the timer
            if cls is None:
                cls, skip = k, o.skip
            elif cls != k or skip != o.skip:
                return None
            lens.add("-" if k == "timeout" else _lens(o))
            nlo = o.nc if nlo is None else min(nlo, o.nc)
            nhi = o.nc_hi if nhi is None else max(nhi, o.nc_hi)
            tk = taken_by(op, o, c)
            taken = tk if taken is None else min(taken, tk)
        return cls, nlo, nhi, (lens.pop() if len(lens) == 1 else "*"), skip, taken

    # ---- proposals ----
    def propose_read(self):
        r = self.r
        kind = r.choice(("recv", "recv", "readn", "readn", "readl", "readl", "reada", "lines"))
        op = {"op": kind}
        if kind == "recv":
            op["max"] = r.choice((None, None, 1, 2, 7, 100, 1000))
        elif kind == "readn":
            op["n"] = r.choice((0, 1, 2, 5, 17, 100, 1000, 5000, 70000, 200000))
        elif kind == "readl":
            op["fmt"] = r.choice(("l", "l", "L", "*l", None))
        elif kind == "lines":
            op["k"] = r.randint(1, 4)
        small = is_small(self.T)
        acts = []
        S, eof, rst = self.S, self.eof, self.rst
        if self.eof or self.rst or self.pclosed:
            pass  # nothing more will come
        elif small:
            if r.random() < 0.5:
                extra = self.partial_for(op)
                if extra:
                    acts += self.pieces(extra)
                    S = self.S + extra
        else:
            need = self.supply_for(op)
            if self.skip and r.random() < 0.8:  # the dropped line's end
                need = self.text(r.randint(0, 20)) + b"\n" + need
            mode = r.random()
            if mode < 0.15:
                acts.append(["sleep", STALL])
            tail = None
            late = len(self.steps) > self.nops // 2
            if kind == "reada" and not late and r.random() < 0.8:
                return None
            if late and (mode > 0.95 or (kind == "reada" and r.random() < 0.7)):
                tail = "hc"
            elif mode > 0.9 and late:
                tail = r.choice(("rst", "pclose"))
            acts += self.pieces(need)
            S = self.S + need
            if tail == "hc":
                acts.append(["hc"])
                eof = True
            elif tail == "rst":
                acts.append(["rst"])
                rst = True
            elif tail == "pclose":
                if self.wdirty:
                    return None
                acts.append(["hc"])
                acts.append(["pclose"])
                eof = True
        res = self.reads_over(op, self.st(S, eof, rst), small)
        if res is None:
            return None
        cls, nlo, nhi, lens, skip, taken = res
        taken = max(self.taken, taken)
        if rst and not self.rst and len(S) - taken > RST_UNREAD:
            return None  # the host's kernel must hold what it has not taken
        return {"op": op, "peer": acts, "expect": cls, "lens": lens,
                "_apply": (S, eof, rst, nlo, nhi, skip, acts), "_taken": taken}

    def supply_for(self, op):
        """Bytes that satisfy op at every position (if the generator can)."""
        r = self.r
        kind = op["op"]
        have = len(self.S) - self.hi
        if kind == "recv":
            return self.text(r.randint(1, 300)) if have <= 0 or r.random() < 0.3 else b""
        if kind == "readn":
            short = op["n"] - have
            extra = r.choice((0, 0, 3, 50))
            return self.text(max(0, short) + extra) if short > 0 or r.random() < 0.3 else b""
        if kind in ("readl", "lines"):
            n = op.get("k", 1) + r.choice((0, 0, 1))
            return b"".join(self.line() for _ in range(n))
        if kind == "reada":
            n = r.choice((0, 1, 100, 3000, 70000, 300000))
            return self.text(n)
        return b""

    def partial_for(self, op):
        """Bytes that leave op still waiting (for a small timeout)."""
        r = self.r
        kind = op["op"]
        if kind == "readn" and op["n"] > 1:
            return self.text(r.randint(1, op["n"] - 1))
        if kind in ("readl", "lines"):
            return self.text(r.randint(1, min(20, max(1, self.ml - 1))))
        if kind == "reada":
            return self.text(r.randint(1, 100))
        return b""

    def propose_send(self):
        r = self.r
        if self.pclosed:
            return None
        small = is_small(self.T)
        acts = []
        roll = r.random()
        if self.sshut:
            n, expect = r.randint(1, 50), "closed"
        elif self.rst:
            if small:
                return None
            n, expect = r.randint(1, 50), "reset"
        elif roll < 0.45:
            if small and (self.wdirty or self.T < 0.1):
                return None
            n, expect = r.randint(1, 300), "ok"
        elif roll < 0.65:
            if small:
                return None
            n, expect = r.randint(1000, 300000), "ok"
        elif roll < 0.8:
            if not small:
                return None
            n, expect = r.randint(BIG_MIN, BIG_MIN + (2 << 20)), "timeout"
            acts.append(["rstop"])
        elif roll < 0.93:
            if small:
                return None
            n, expect = r.randint(1 << 20, 8 << 20), "ok"
            acts.append(["rpause", STALL])
        else:
            if small or len(self.steps) < self.nops // 2 or len(self.S) - self.taken > RST_UNREAD:
                return None
            n, expect = BIG_MIN, "reset"
            acts += [["rstop"], ["sleep", 0.1], ["rst"]]
        if expect == "ok" and self.wdirty and small:
            return None
        nparts = r.choice((1, 1, 1, 2, 3, 5, 6))
        cuts = sorted(r.randint(0, n) for _ in range(nparts - 1))
        op = {"op": "send", "p": len(self.sends) % 2, "n": n, "cuts": cuts}
        return {"op": op, "peer": acts, "expect": expect, "lens": "",
                "_send": (expect, acts)}

    def propose_other(self):
        r = self.r
        roll = r.random()
        if roll < 0.35:
            t = r.choice((None, None, 0, 0.05, 0.1, 0.2, LARGE, LARGE))
            return {"op": {"op": "settimeout", "t": t}, "peer": [], "expect": "ok", "lens": "",
                    "_timeout": t}
        if roll < 0.5:
            name = r.choice(("maxline", "maxline", "maxread"))
            v = r.choice((4, 8, 16, 100)) if name == "maxline" else r.choice((10, 1000, 100000))
            return {"op": {"op": "setoption", "name": name, "v": v}, "peer": [],
                    "expect": "ok", "lens": "", "_option": (name, v)}
        if roll < 0.65:
            acts = []
            S = self.S
            if not (self.eof or self.rst or self.pclosed) and r.random() < 0.5:
                data = self.text(r.choice((10, 1000, 100000)))
                acts = self.pieces(data)
                S = self.S + data
            d = r.choice((0, 0.01, 0.05))
            return {"op": {"op": "sleep", "s": d}, "peer": acts, "expect": "ok", "lens": "",
                    "_apply": (S, self.eof, self.rst, self.lo, self.hi, self.skip, acts)}
        if roll < 0.75:
            if self.sshut or self.rst or self.pclosed:
                return None
            return {"op": {"op": "shutdown"}, "peer": [], "expect": "ok", "lens": "",
                    "_shutdown": True}
        if roll < 0.85:
            return self.propose_par()
        if roll < 0.93:
            # a second reader raises while the first waits
            if (is_small(self.T) or self.eof or self.rst or self.pclosed
                    or self.lo != self.hi or self.lo != len(self.S) or self.skip):
                return None
            data = self.text(r.randint(1, 100))
            acts = [["sleep", 0.2]] + self.pieces(data)
            S = self.S + data
            return {"op": {"op": "reader2"}, "peer": acts, "expect": "raise/ok", "lens": "",
                    "_apply": (S, False, False, len(self.S) + 1, len(S), False, acts),
                    "_taken": len(self.S) + 1}
        # a second sender raises while the first waits
        if is_small(self.T) or self.sshut or self.rst or self.pclosed:
            return None
        op = {"op": "sender2", "p": len(self.sends) % 2, "n": BIG_MIN}
        return {"op": op, "peer": [["rpause", STALL]], "expect": "raise/ok", "lens": "",
                "_send": ("ok", [])}

    def propose_par(self):
        """A spawned task reads while this one sends a large string."""
        r = self.r
        if is_small(self.T) or self.sshut or self.rst or self.pclosed or self.eof:
            return None
        rop = None
        for _ in range(10):
            kind = r.choice(("recv", "readn", "readl"))
            rop = {"op": kind}
            if kind == "recv":
                rop["max"] = r.choice((None, 5))
            elif kind == "readn":
                rop["n"] = r.choice((1, 10, 1000))
            else:
                rop["fmt"] = "l"
            need = self.supply_for(rop)
            S = self.S + need
            res = self.reads_over(rop, self.st(S), False)
            if res:
                break
        else:
            return None
        cls, nlo, nhi, lens, skip, taken = res
        n = r.randint(1 << 20, 4 << 20)
        sop = {"op": "send", "p": len(self.sends) % 2, "n": n, "cuts": []}
        acts = [["rpause", STALL], ["sleep", 0.1]] + self.pieces(need)
        return {"op": {"op": "par", "read": rop, "send": sop}, "peer": acts,
                "expect": "ok/" + cls, "lens": lens,
                "_apply": (S, False, False, nlo, nhi, skip, acts), "_send": ("ok", []),
                "_taken": max(self.taken, taken)}

    # ---- applying a step to the model ----
    def commit(self, step):
        if "_apply" in step:
            S, eof, rst, lo, hi, skip, acts = step.pop("_apply")
            self.nls = newlines(S, len(self.S), self.nls)
            self.S = bytearray(S)
            self.skip = skip
            self.eof, self.rst = eof, rst
            self.lo, self.hi = lo, hi
            if any(a[0] == "pclose" for a in acts):
                self.pclosed = True
        if "_taken" in step:
            self.taken = max(self.taken, step.pop("_taken"))
        if "_send" in step:
            expect, acts = step.pop("_send")
            op = step["op"]
            sop = op["send"] if op["op"] == "par" else op
            if expect == "closed":
                pass  # nothing sent, nothing owed: not a send of the stream
            else:
                how = "ok" if expect == "ok" else "part"
                self.sends.append([sop["p"], sop["n"], how])
                self.wdirty = expect == "timeout"
            if any(a[0] == "rst" for a in acts):
                self.rst = True
                for s in self.sends:
                    s[2] = "gone" if s[2] != "ok" else s[2]
        if "_timeout" in step:
            self.T = step.pop("_timeout")
        if "_option" in step:
            name, v = step.pop("_option")
            if name == "maxline":
                self.ml = v
            else:
                self.mr = v
        if step.pop("_shutdown", False):
            self.sshut = True
        step["t"] = self.T
        step.update(slen=len(self.S), eof=self.eof, rst=self.rst, ml=self.ml, mr=self.mr)
        self.steps.append(step)

    def finish(self):
        """Ends the program: a marker send after a send that timed out, so
        the peer knows when it has every byte; sometimes an explicit close."""
        if self.wdirty and not (self.sshut or self.rst or self.pclosed):
            if is_small(self.T):
                self.commit({"op": {"op": "settimeout", "t": None}, "peer": [], "expect": "ok",
                             "lens": "", "_timeout": None})
            self.commit({"op": {"op": "send", "p": len(self.sends) % 2, "n": 7, "cuts": []},
                         "peer": [], "expect": "ok", "lens": "", "_send": ("ok", [])})
        if (self.lo == self.hi == len(self.S) and not self.skip and self.r.random() < 0.3
                and "B3" not in self.avoid):
            self.commit({"op": {"op": "close"}, "peer": [], "expect": "ok", "lens": ""})
            self.commit({"op": {"op": "useclosed"}, "peer": [], "expect": "raise", "lens": ""})
            self.closed = True

    def program(self):
        r = self.r
        ended = None  # steps left once the peer has reset or closed
        while len(self.steps) < self.nops and ended != 0:
            if ended is None and (self.rst or self.pclosed or self.eof):
                ended = r.randint(1, 3) if self.rst or self.pclosed else r.randint(2, 6)
            elif ended:
                ended -= 1
            step = None
            for _ in range(60):
                roll = r.random()
                if roll < 0.45:
                    step = self.propose_read()
                elif roll < 0.7:
                    step = self.propose_send()
                else:
                    step = self.propose_other()
                if step:
                    break
            if not step:
                t = None if is_small(self.T) else 0.1
                step = {"op": {"op": "settimeout", "t": t}, "peer": [], "expect": "ok",
                        "lens": "", "_timeout": t}
            self.commit(step)
            if "timeout" in step["expect"] and r.random() < 0.5:
                self.both_ways()
        self.finish()
        for k, s in enumerate(self.steps):
            s["k"] = k + 1
        return self.steps

    def both_ways(self):
        """After a timeout: the connection must work both ways, so (often)
        a read that gets its bytes and a send that goes out follow."""
        r = self.r
        if self.eof or self.rst or self.pclosed or self.sshut:
            return
        if is_small(self.T):
            t = r.choice((None, LARGE))
            self.commit({"op": {"op": "settimeout", "t": t}, "peer": [], "expect": "ok",
                         "lens": "", "_timeout": t})
        want = ["read", "send"]
        r.shuffle(want)
        for kind in want:
            for _ in range(40):
                step = self.propose_read() if kind == "read" else self.propose_send()
                if (step and step["expect"].startswith("ok")
                        and not any(a[0] in ("hc", "rst", "pclose") for a in step["peer"])):
                    self.commit(step)
                    break


def _lens(o):
    if o.vals is None:
        return "*"      # recv: its length is the network's choice
    return lens(o.vals)


def lens(vals):
    """What the transcript keeps of a result: each value's length, or the
    error word, or "-" for nil."""
    out = []
    for i, v in enumerate(vals):
        if v is None:
            out.append("-")
        elif i == 1 and vals[0] is None and isinstance(v, bytes):
            out.append(v.decode("latin-1"))
        elif isinstance(v, bytes):
            out.append(str(len(v)))
        else:
            out.append(str(v))
    return ",".join(out)


def describe(op):
    """A short text for an op, as failures print it."""
    k = op["op"]
    if k == "recv":
        return "recv(%s)" % (op.get("max") or "")
    if k == "readn":
        return "read(%d)" % op["n"]
    if k == "readl":
        return "read(%s)" % ('"%s"' % op["fmt"] if op.get("fmt") else "")
    if k == "reada":
        return 'read("a")'
    if k == "lines":
        return "lines() x%d" % op["k"]
    if k == "send":
        return "send(%d bytes in %d strings)" % (op["n"], len(op["cuts"]) + 1)
    if k == "sender2":
        return "send(%d bytes) in a task, and a second send" % op["n"]
    if k == "settimeout":
        return "settimeout(%s)" % tdesc(op["t"])
    if k == "setoption":
        return 'setoption("%s", %d)' % (op["name"], op["v"])
    if k == "sleep":
        return "host.sleep(%g)" % op["s"]
    if k == "par":
        return "%s in a task while %s" % (describe(op["read"]), describe(op["send"]))
    if k == "reader2":
        return "recv() in a task, and a second recv()"
    return k + "()"
