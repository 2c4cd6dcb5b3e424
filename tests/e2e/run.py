#!/usr/bin/env python3
"""Runs the end-to-end suite against a host binary.

  python3 tests/e2e/run.py --host build/host [--backend epoll] [NAME...]
  python3 tests/e2e/run.py --host-cmd "cmake/wine-run.sh build-win/host.exe" --wine

NAME selects tests whose name (module.function) contains it.  Exits 1 on failure.
"""
import argparse
import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", help="path of the host binary")
    p.add_argument("--host-cmd", help="command prefix that runs the host (e.g. under wine)")
    p.add_argument("--backend", help="pass --backend to every host started")
    p.add_argument("--wine", action="store_true", help="the host runs under Wine")
    p.add_argument("names", nargs="*")
    a = p.parse_args()
    if a.host_cmd:
        harness.HOST_CMD = shlex.split(a.host_cmd)
    elif a.host:
        harness.HOST_CMD = [os.path.abspath(a.host)]
    harness.BACKEND = a.backend
    harness.WINE = a.wine
    import cli_test  # noqa: F401
    import serve_test  # noqa: F401
    import signals_test  # noqa: F401
    import limits_test  # noqa: F401
    import workers_test  # noqa: F401
    import hardening_test  # noqa: F401
    import tls_test  # noqa: F401
    import names_test  # noqa: F401
    import coop_test  # noqa: F401
    import http_test  # noqa: F401
    import guards_test  # noqa: F401
    import balancer_test  # noqa: F401
    import reload_test  # noqa: F401
    import activation_test  # noqa: F401
    try:
        failed = harness.run_all(a.names)
    finally:
        shutil.rmtree(harness.SCRATCH, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
