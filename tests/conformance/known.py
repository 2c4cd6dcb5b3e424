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


def _b4(x):
    # io_uring: a send of several strings that has to wait for room
    # returns nil, "error" (EAGAIN; "resource temporarily unavailable"
    # before the error words were fixed)
    return (x.op["op"] == "send" and x.backend == "io_uring" and
            x.got_err() in ("error", "resource temporarily unavailable"))


def _b7(x):
    # io_uring: a large send cancelled by its timeout ends with EINTR
    # ("error"), and the shutdown after it fails too (or the send never
    # ends at all: peer.py reports that hang as B7 itself)
    if x.backend != "io_uring":
        return False
    return x.op["op"] in ("send", "shutdown") and x.got_err() == "error"


BUGS = [
    ("B4", "io_uring: a send that must wait returns \"error\" (EAGAIN)", _b4),
    ("B7", "io_uring: a send cancelled by its timeout hangs or ends in EINTR", _b7),
]

AVOID = set()  # none now (B3, fixed, was one)


def match(ctx):
    """The id of the known bug this failure is, or None."""
    for bug, _what, fn in BUGS:
        try:
            if fn(ctx):
                return bug
        except Exception:
            pass
    return None
