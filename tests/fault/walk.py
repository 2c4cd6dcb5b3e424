#!/usr/bin/env python3
"""The fault walk: runs `host test tests/fault/scenario_test.lua` once per
allocation, failing the k-th one (HOST_FAULT_C=k, then HOST_FAULT_LUA=k)
in a build with HOST_FAULT_INJECTION and the sanitizers.  Each run may
fail its tests (exit 1); it must not crash, trip a sanitizer, leak, or
hang.  The walk of a kind ends at the first k that no longer fires.  Lua
makes thousands of allocations, so its walk takes every `--lua-step`-th.

  python3 tests/fault/walk.py build-fault/host [--lua-step N]
"""
import argparse
import os
import subprocess
import sys

BAD = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
       "unprotected Lua error", "Segmentation fault")


def run(host, kind, k, backend):
    env = dict(os.environ, **{"HOST_FAULT_" + kind: str(k),
                              "ASAN_OPTIONS": "detect_leaks=1",
                              "HOST_TEST_TIMEOUT": "5"})
    cmd = [host, "--backend", backend, "test",
           os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenario_test.lua")]
    try:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return None, "hang: no exit within 60 s", ""
    err = p.stderr.decode("utf-8", "replace")
    fired = "fault injected:" in err
    where = next((l for l in err.splitlines() if l.startswith("fault injected:")), "")
    if p.returncode not in (0, 1):
        return fired, "exit %d" % p.returncode, err
    for word in BAD:
        if word in err:
            return fired, word, err
    return fired, None, where


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--lua-step", type=int, default=53)
    ap.add_argument("--backend", default="epoll")
    a = ap.parse_args()
    passed = failed = 0
    for kind, step in (("C", 1), ("LUA", a.lua_step)):
        k = 1
        while True:
            fired, problem, detail = run(a.host, kind, k, a.backend)
            if problem:
                failed += 1
                print("not ok - HOST_FAULT_%s=%d: %s" % (kind, k, problem))
                for line in detail.splitlines()[-30:]:
                    print("#   " + line)
            else:
                passed += 1
            if not fired and not problem:
                break  # k went past the last allocation of this kind
            k += step
        print("# HOST_FAULT_%s: walked k = 1..%d (step %d)" % (kind, k, step))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
