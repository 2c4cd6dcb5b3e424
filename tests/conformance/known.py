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


def _b2(x):
    # after the peer reset: "closed" (or read("a") succeeding) where the
    # reset should show, because a send took the socket's error first
    if not x.st.rst or x.st.eof:
        return False
    err = x.got_err()
    if err == "closed":
        return True
    if x.op["op"] == "reada" and isinstance(x.vals, list) and len(x.vals) == 1:
        return True
    v = x.vals
    if x.op["op"] == "lines" and isinstance(v, list) and len(v) >= 2 and v[-2] is None:
        return v[-1] == b"closed"
    return False


BUGS = [
    ("B2", "\"closed\" instead of \"reset\" after the peer reset, once a send saw it", _b2),
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
