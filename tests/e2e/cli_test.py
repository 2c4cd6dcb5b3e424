"""The command line: help, version, usage errors, scripts that fail."""
import re
import socket

from harness import test, check, run, script, free_port, skip, Host, BACKEND, WINE
import harness


@test
def help_exits_0():
    code, out, err = run(["--help"])
    check(code == 0, "exit %r" % code)
    check("usage: host" in out and "--workers" in out, out)


@test
def version_names_the_backend():
    code, out, err = run(["--version"])
    check(code == 0, "exit %r" % code)
    check(re.match(r"host \d+\.\d+\.\d+ \((io_uring|epoll|iocp) backend, Lua 5\.4", out), out)
    if harness.BACKEND:
        check("(%s backend" % harness.BACKEND in out, out)


@test
def usage_errors_exit_2():
    for args, words in [
        (["--bogus"], "unknown option"),
        ([], "no script given"),
        (["--workers", "zero", "x.lua"], "--workers"),
        (["--workers"], "needs a value"),
        (["--grace", "-1", "x.lua"], "--grace"),
        (["--log-level", "loud", "x.lua"], "unknown log level"),
        (["test", "no/such/dir"], "no such file or directory"),
    ]:
        code, out, err = run(args)
        check(code == 2, "%s: exit %r" % (args, code))
        check(words in err, "%s: %r not in %r" % (args, words, err))


@test
def unknown_backend_exits_2():
    code, out, err = run(["--backend", "kqueue", "x.lua"], backend=False)
    check(code == 2, "exit %r" % code)
    check("unknown backend 'kqueue'" in err, err)


@test
def syntax_error_exits_1_with_file_and_line():
    path = script("broken.lua", "local x = 1\nlocal y = = 2\n")
    code, out, err = run([path], timeout=10)
    check(code == 1, "exit %r" % code)
    check(re.search(r"broken\.lua:2:", err), err)
    check(err.count("broken.lua:2:") == 1, "reported once, not per worker:\n" + err)


@test
def runtime_error_in_script_exits_1_with_traceback():
    path = script("raises.lua", "local function f()\n  error('no config')\nend\nf()\n")
    code, out, err = run(["--workers", "2", path])
    check(code == 1, "exit %r" % code)
    check("raises.lua:2: no config" in err, err)
    check("stack traceback" in err, err)


@test
def missing_script_exits_1():
    code, out, err = run(["/no/such/script.lua"])
    check(code == 1, "exit %r" % code)
    check("cannot open /no/such/script.lua" in err, err)


@test
def script_returning_a_non_function_exits_1():
    path = script("returns42.lua", "return 42\n")
    code, out, err = run([path])
    check(code == 1, "exit %r" % code)
    check("returned a number" in err, err)


@test
def a_script_with_nothing_to_wait_for_exits_0():
    path = script("hello.lua", "print('hello from worker ' .. require('host').worker)\n")
    code, out, err = run(["--workers", "2", path])
    check(code == 0, "exit %r: %s" % (code, err))
    check(sorted(out.split()) == sorted("hello from worker 1 hello from worker 2".split()), out)


@test
def script_arguments_reach_host_arg_and_arg():
    path = script("args.lua", "local host = require 'host'\n"
                  "print(table.concat(host.arg, ','), arg[0] ~= nil, arg[1], #arg)\n")
    code, out, err = run(["--workers", "1", path, "a", "b c"])
    check(code == 0, "exit %r: %s" % (code, err))
    check(out.strip() == "a,b c\ttrue\ta\t2", repr(out))


@test
def port_in_use_exits_1_with_a_clear_message():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        code, out, err = run(["--listen", "127.0.0.1:%d" % port, harness.example("echo.lua")])
    finally:
        blocker.close()
    check(code == 1, "exit %r" % code)
    check("cannot listen on 127.0.0.1:%d: address already in use" % port in err, err)


@test
def bad_listen_address_exits_1():
    code, out, err = run(["--listen", "nowhere", harness.example("echo.lua")])
    check(code == 1, "exit %r" % code)
    check("expected ip:port" in err, err)


@test
def host_test_exit_codes():
    ok = script("pass_test.lua", "describe('x', function() it('works', function() assert.equal(1, 1) end) end)\n")
    bad = script("fail_test.lua", "it('fails', function() assert.equal(1, 2) end)\n")
    code, out, err = run(["test", ok])
    check(code == 0, "passing: exit %r\n%s%s" % (code, out, err))
    check(out.strip().endswith("1 passed, 0 failed"), out)
    code, out, err = run(["test", bad])
    check(code == 1, "failing: exit %r" % code)
    check("not ok 1 - fails" in out and out.strip().endswith("0 passed, 1 failed"), out)
    empty = script("empty_dir_marker.txt", "")
    code, out, err = run(["test", empty.replace("empty_dir_marker.txt", "")], timeout=10)
    # the scratch dir holds pass_test.lua and fail_test.lua: both run
    check(code == 1 and "1 passed, 1 failed" in out, out)


@test
def host_test_fails_an_it_that_does_not_finish():
    slow = script("slow_test.lua", "local host = require 'host'\n"
                  "it('hangs', function() host.sleep(60) end)\n"
                  "it('runs after it', function() assert.truthy(true) end)\n")
    code, out, err = run(["test", slow], env={"HOST_TEST_TIMEOUT": "0.5"}, timeout=10)
    check(code == 1, "exit %r" % code)
    check("not ok 1 - hangs" in out and "timed out after 0.5 s" in out, out)
    check("ok 2 - runs after it" in out and out.strip().endswith("1 passed, 1 failed"), out)


@test
def a_client_script_that_never_closes_its_connection_still_exits():
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        c.recv(100)
        c.sendall(b"PONG\r\n")
        try:
            c.recv(100)  # holds the connection open until the host goes
        finally:
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    path = script("client.lua", "local host = require 'host'\n"
                  "local c = assert(host.connect('127.0.0.1:%d'))\n"
                  "c:send('PING\\r\\n')\n"
                  "print(c:read('l'))\n" % port)
    try:
        code, out, err = run(["--workers", "1", path], timeout=10)
    finally:
        srv.close()
    check(code == 0, "exit %r: %s" % (code, err))
    check(out.strip() == "PONG", repr(out))
