"""Known host bugs (KNOWN.md), so that a run can tell them from new ones.

Each entry recognises one bug in a failed step: match(ctx) returns True
when the failure is that bug.  A run without --strict reports such a
program as "not ok ... # TODO known Bn" and does not count it as failed;
with --strict it fails like any other.  AVOID lists the bugs the
generator steers around (a program that hit them would break *other*
programs of the same host process, not only itself), unless --strict.

When the lead fixes a bug, its entry goes (and the seeds that hit it
must then pass with --strict).
"""


class Ctx:
    """What a matcher sees of a failed step."""

    def __init__(self, step, op, c, stream, vals, backend):
        self.step, self.op, self.c, self.st, self.vals = step, op, c, stream, vals
        self.backend = backend

    def got_err(self):
        v = self.vals
        if isinstance(v, list) and len(v) >= 2 and v[0] is None and isinstance(v[1], bytes):
            return v[1].decode("latin-1")
        if isinstance(v, list) and v and isinstance(v[-1], dict):
            return v[-1]["raise"]           # lines() raised
        return None


def _b1(x):
    # read("l") / lines(): "too long" for a line of at most maxline bytes
    # whose "\r" arrived without its "\n" (maxline + 1 bytes buffered)
    if x.op["op"] not in ("readl", "lines"):
        return False
    err = x.got_err() or ""
    if "too long" not in err:
        return False
    S, ml = x.st.S, x.st.ml
    for c in _line_starts(x):
        head = bytes(S[c:c + ml + 1])
        if len(head) == ml + 1 and head.endswith(b"\r") and b"\n" not in head:
            return True
    return False


def _line_starts(x):
    """The position of the read, and (for lines()) of each later line."""
    out = [x.c]
    if x.op["op"] == "lines" and isinstance(x.vals, list):
        c = x.c
        for v in x.vals:
            if not isinstance(v, bytes):
                break
            nl = x.st.S.find(b"\n", c)
            if nl < 0:
                break
            c = nl + 1
            out.append(c)
    return out


def _b2(x):
    # after the peer reset: "closed" (or read("a") succeeding) where the
    # reset should show, because a send took the socket's error first
    if not x.st.rst or x.st.eof:
        return False
    err = x.got_err()
    if err == "closed" or (err and "conn:lines(): closed" in err):
        return True
    if x.op["op"] == "reada" and isinstance(x.vals, list) and len(x.vals) == 1:
        return True
    if x.op["op"] == "lines" and isinstance(x.vals, list) and (not x.vals or x.vals[-1] is None):
        return True
    return False


def _b4(x):
    # io_uring: a send of several strings that has to wait for room
    # returns nil, "resource temporarily unavailable" (EAGAIN)
    return x.got_err() == "resource temporarily unavailable"


BUGS = [
    ("B1", "too long at a \"\\r\" that arrived without its \"\\n\"", _b1),
    ("B2", "\"closed\" instead of \"reset\" after the peer reset, once a send saw it", _b2),
    ("B4", "io_uring: a send of several strings returns EAGAIN", _b4),
]

# B3: a handler that closes its own connection and goes on: when it
# returns, the host closes the conn again -- freed by then, and maybe
# reused by another connection, which gets closed instead.  Programs with
# conn:close() in the middle would break other programs of the process.
AVOID = {"B3"}


def match(ctx):
    """The id of the known bug this failure is, or None."""
    for bug, _what, fn in BUGS:
        try:
            if fn(ctx):
                return bug
        except Exception:
            pass
    return None
