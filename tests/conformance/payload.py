"""The server's payloads, and what the peer received split back into them.

Send number j of a program sends a prefix of canon[j % 2]: 32-byte
records, each the record's index in 8 symbols then 24 filler symbols.
The two alphabets are disjoint, so where one send's bytes end and the
next one's begin is plain even when a send that timed out sent only part
of its bytes; the index in each record makes a lost, repeated or
reordered record show.  handler.lua builds the same streams.
"""
import sys

SYMS = (b"abcdefghijklmnop", b"ABCDEFGHIJKLMNOP")
_canon = [b"", b""]


def _block_template(p):
    sym = SYMS[p]
    fills = [bytes(sym[(r + k) % 16] for k in range(24)) for r in range(16)]
    return b"".join(b"######" + bytes((sym[lo >> 4], sym[lo & 15])) + fills[lo % 16]
                    for lo in range(256))


def payload(p, n):
    """The first n bytes of parity p's canonical stream (blocks of 256
    records: handler.lua builds it the same way)."""
    have = _canon[p]
    if len(have) < n:
        sym = SYMS[p]
        tpl = _block_template(p)
        nblk = max((n + 8191) // 8192, 2 * (len(have) // 8192))
        parts = [have]
        for h in range(len(have) // 8192, nblk):
            hi = bytes(sym[(h >> s) & 15] for s in (20, 16, 12, 8, 4, 0))
            parts.append(tpl.replace(b"######", hi))
        _canon[p] = have = b"".join(parts)
    return have[:n]


def parse_s2p(got, sends):
    """Splits what the peer received into the server's sends.

    sends: [(parity, length, how)] in order, how = "ok" (must be there in
    full) or "part" (any prefix, maybe none: it timed out or failed).
    Returns (error or None, complete): complete when every "ok" send has
    fully arrived.  Where a partial send ended is not known: after a send
    that wrote nothing, two sends of the same parity meet, and the first
    may seem to go on a few bytes into the second; so each end within a
    few bytes of the longest match is tried."""
    got = bytes(got)
    sys.setrecursionlimit(max(1000, 4 * len(sends) + 100))
    wants = [payload(p, n) for p, n, _how in sends]

    def rec(j, pos):
        if j == len(sends):
            if pos < len(got):
                return ("%d bytes after the last send: %r" % (len(got) - pos, got[pos:pos + 40]),
                        False)
            return None, True
        n, how = sends[j][1], sends[j][2]
        want = wants[j]
        if how == "ok":
            have = got[pos:pos + n]
            if have != want[:len(have)]:
                i = _first_diff(have, want)
                return ("send %d (%d bytes, returned true): byte %d differs: got %r, want %r" %
                        (j, n, i, have[max(0, i - 8):i + 24], want[max(0, i - 8):i + 24]), False)
            if len(have) < n:
                return None, False       # not all here yet
            return rec(j + 1, pos + n)
        k = _common(got, pos, want)
        first = None
        partial = False
        for cut in range(k, max(-1, k - 64), -1):
            err, done = rec(j + 1, pos + cut)
            if err is None and done:
                return None, True
            if err is None:
                partial = True      # fits so far: more may be on the way
            elif cut == k:
                first = err
        if partial:
            return None, False
        return first or ("send %d (partial)" % j), False

    return rec(0, 0)


def _common(got, pos, want):
    """How many bytes of want got has at pos."""
    m = min(len(want), len(got) - pos)
    i, step = 0, 1 << 16
    while i + step <= m and got[pos + i:pos + i + step] == want[i:i + step]:
        i += step
    lo, hi = i, min(i + step, m)
    while lo < hi:           # the first difference is in [lo, hi]
        mid = (lo + hi + 1) // 2
        if got[pos + lo:pos + mid] == want[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def _show(a, b):
    i = _first_diff(a, b)
    return a[max(0, i - 8):i + 24]
