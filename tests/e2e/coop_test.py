"""Workers cooperating: one dictionary seen by every worker (host.shared),
and messages between workers (host.post, host.broadcast, host.receive).
`host test` runs one worker, so everything that needs several is here.
"""
import re
import signal
import threading

import harness
from harness import test, check, Host, run, script, free_port, connect, recv_line, recv_exactly

COUNTER = """local host = require 'host'
local d = host.shared('counter')
return function(conn)
  local line = conn:read('l')
  if line == 'incr' then
    conn:send(d:incr('n', 1, 0), ' ', host.worker, '\\n')
  else
    conn:send(d:get('n') or 0, '\\n')
  end
end
"""


def counter_exact(workers):
    port = free_port()
    with Host(["--workers", str(workers), "--listen", "127.0.0.1:%d" % port,
               script("counter.lua", COUNTER)]) as h:
        check(h.wait_log(r"\[w%d\] listening" % workers), h.stderr())
        values, served, errors = [], {}, []
        lock = threading.Lock()

        def client(n):
            for _ in range(n):
                try:
                    s = connect(port)
                    s.sendall(b"incr\n")
                    v, w = recv_line(s).split()
                    s.close()
                    with lock:
                        values.append(int(v))
                        served[w] = served.get(w, 0) + 1
                except Exception as e:  # noqa: BLE001 - reported below
                    with lock:
                        errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(50,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(not errors, "%d errors, first: %s" % (len(errors), errors[:1]))
        # Every increment was atomic: each value 1..1000 came back once.
        check(sorted(values) == list(range(1, 1001)), "values: %d, distinct %d, max %d"
              % (len(values), len(set(values)), max(values or [0])))
        s = connect(port)
        s.sendall(b"get\n")
        check(recv_line(s).strip() == b"1000")
        s.close()
        check(len(served) >= 2, "served by %r" % served)
        print("# %d workers served %r" % (workers, served))
        h.signal(signal.SIGINT)
        check(h.wait(15) == 0, h.stderr())
        check("ERROR" not in h.stderr(), h.stderr())


@test
def a_counter_incremented_from_1000_connections_on_2_workers_is_exact():
    counter_exact(2)


@test
def a_counter_incremented_from_1000_connections_on_4_workers_is_exact():
    counter_exact(4)


@test
def broadcast_reaches_every_other_worker_once():
    path = script("broadcast.lua", """local host = require 'host'
assert(host.broadcast(host.worker, { from = host.worker }))
local got = {}
for _ = 2, host.workers do
  local from, id, t = assert(host.receive(10))
  assert(from == id and t.from == id, 'sender mismatch')
  got[#got + 1] = id
end
table.sort(got)
local extra = host.receive(0.3)
print(('w%d got %s%s'):format(host.worker, table.concat(got, ','),
                               extra and ' and more' or ''))
""")
    code, out, err = run(["--workers", "4", path], timeout=30)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    lines = sorted(out.split("\n")[:-1])
    check(lines == ["w1 got 2,3,4", "w2 got 1,3,4", "w3 got 1,2,4", "w4 got 1,2,3"],
          repr(lines) + err)


@test
def messages_from_each_sender_arrive_in_order_and_tables_round_trip():
    path = script("order.lua", """local host = require 'host'
local N = 20000
if host.worker ~= 1 then
  for i = 1, N do
    local msg = { seq = i, from = host.worker, pad = ('x'):rep(i % 50),
                  nested = { i, i * 0.5, i % 2 == 0 } }
    while not host.post(1, msg) do host.sleep(0) end
  end
  return
end
local last, total = {}, 0
while total < N * (host.workers - 1) do
  local from, m = assert(host.receive(20))
  assert(m.from == from, 'wrong sender')
  assert(m.seq == (last[from] or 0) + 1, ('w%d: %d after %s'):format(from, m.seq, last[from]))
  assert(#m.pad == m.seq % 50 and m.nested[1] == m.seq and m.nested[2] == m.seq * 0.5
         and math.type(m.nested[2]) == 'float' and m.nested[3] == (m.seq % 2 == 0))
  last[from] = m.seq
  total = total + 1
end
print('in order', total)
""")
    code, out, err = run(["--workers", "4", path], timeout=60)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    check(out.strip() == "in order\t60000", out + err)


@test
def a_full_inbox_says_full_and_nothing_is_lost_or_duplicated():
    path = script("full.lua", """local host = require 'host'
local N = 1000
if host.worker == 1 then
  local sent, first_full = 0, nil
  while sent < N do
    local ok, err = host.post(2, sent + 1)
    if ok then
      sent = sent + 1
    else
      assert(err == 'full', err)
      first_full = first_full or sent
      host.sleep(0.001)
    end
  end
  print('first full after', first_full)
  return
end
host.sleep(0.5) -- not receiving: the inbox fills up
local expect = 1
while expect <= N do
  local _, v = assert(host.receive(10))
  assert(v == expect, ('got %s, expected %d'):format(v, expect))
  expect = expect + 1
end
print('received', expect - 1, 'extra', host.receive(0.2))
""")
    code, out, err = run(["--workers", "2", "--inbox", "100", path], timeout=30)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    lines = sorted(out.strip().split("\n"))
    check(lines == ["first full after\t100", "received\t1000\textra\tnil\ttimeout"], repr(lines) + err)


RECEIVER = """local host = require 'host'
local N, delay = 200, tonumber(arg[1])
if host.worker == 1 then
  for i = 1, N do assert(host.post(2, i)) end
  host.stop()
  host.sleep(0.05)
  print('late post', host.post(2, 'late'))
  return
end
local got = 0
while true do
  local from, v, why = host.receive()
  if not from then print('receive', v); break end
  got = got + 1
  host.sleep(delay)
end
print('received', got)
"""


@test
def a_graceful_stop_lets_queued_messages_be_received_then_says_closed():
    path = script("drain.lua", RECEIVER)
    code, out, err = run(["--workers", "2", "--grace", "10", path, "0"], timeout=30)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    lines = sorted(out.strip().split("\n"))
    check(lines == ["late post\tnil\tclosed", "receive\tclosed", "received\t200"],
          repr(lines) + err)
    check("never received" not in err, err)


@test
def a_stop_whose_grace_runs_out_reports_the_messages_never_received():
    path = script("report.lua", RECEIVER)
    code, out, err = run(["--workers", "2", "--grace", "0.3", path, "0.02"], timeout=30)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    m = re.search(r"\[w2\] (\d+) message\(s\) never received", err)
    check(m, err)
    # Worker 2's receiving task is ended by the grace period, so it never
    # prints: count what it took from what is left.
    lost = int(m.group(1))
    check(0 < lost < 200, err)
    check("late post\tnil\tclosed" in out, out)


@test
def a_worker_waiting_for_messages_ends_when_the_others_have():
    # Worker 2 waits with no timeout; worker 1 sends two messages and its
    # script ends: worker 2 takes them, then nothing could ever come, so
    # the host exits by itself.
    path = script("ends.lua", """local host = require 'host'
if host.worker == 1 then
  host.post(2, 'a')
  host.post(2, 'b')
  return
end
host.spawn(function()
  while true do
    local from, v = host.receive()
    print('got', v)
  end
end)
""")
    code, out, err = run(["--workers", "2", path], timeout=15)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    check(out == "got\ta\ngot\tb\n", repr(out) + err)


@test
def mail_posted_by_the_last_sender_as_it_ends_is_received():
    # Worker 2's receiver waits; worker 1 posts two messages and ends
    # while worker 2 is busy (no time slices, so nothing of the loop runs
    # meanwhile).  When worker 2 looks for a reason to stay, no other
    # worker runs, but the two messages sit in its inbox: they must be
    # taken, not counted as never received.
    path = script("ends-busy.lua", """local host = require 'host'
if host.worker == 1 then
  host.sleep(0.05)
  host.post(2, 'a')
  host.post(2, 'b')
  return
end
host.spawn(function()
  while true do
    local from, v = host.receive()
    print('got', v)
  end
end)
host.sleep(0)
local t = os.clock()
while os.clock() - t < 1 do end
""")
    code, out, err = run(["--workers", "2", "--slice", "0", path], timeout=15)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    check("never received" not in err, err)
    check(out == "got\ta\ngot\tb\n", repr(out) + err)


@test
def one_dictionary_is_shared_by_every_worker():
    path = script("dict.lua", """local host = require 'host'
local d = host.shared('cfg', 2)
if host.worker == 1 then
  d:set('greeting', 'hello from 1')
  d:rpush('queue', 'job')
  host.broadcast('go')
else
  assert(host.receive(10))
  local ok, err = pcall(host.shared, 'cfg', 4)
  print(host.worker, d:get('greeting'), d:lpop('queue') or 'taken', d:stats().size,
        err:match('exists with 2 MB, not 4 MB') ~= nil)
end
""")
    code, out, err = run(["--workers", "3", path], timeout=15)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    lines = sorted(out.strip().split("\n"))
    check(len(lines) == 2 and all(l.split("\t")[1] == "hello from 1" for l in lines), repr(lines))
    check(sorted(l.split("\t")[2] for l in lines) == ["job", "taken"], repr(lines))
    check(all(l.endswith("\t2097152\ttrue") for l in lines), repr(lines))


@test
def a_dictionary_outlives_the_worker_that_filled_it():
    # Worker 1 stores and ends at once; worker 2 opens the dictionary only
    # later, when worker 1's VM may well be closed: the process keeps it.
    path = script("outlives.lua", """local host = require 'host'
if host.worker == 1 then
  host.shared('kept'):set('k', 'still here')
  return
end
host.sleep(0.3)
print(host.shared('kept'):get('k'))
""")
    code, out, err = run(["--workers", "2", path], timeout=15)
    out = out.replace("\r\n", "\n")  # Wine writes CRLF
    check(code == 0, "exit %d: %s" % (code, err))
    check(out == "still here\n", repr(out) + err)


@test
def inbox_option_is_checked():
    for bad in ("0", "x", "1.5", "16777217"):
        code, _, err = run(["--inbox", bad, "x.lua"])
        check(code == 2 and "--inbox wants a number from 1 to 16777216" in err, err)


@test
def the_chat_example_reaches_clients_on_every_worker():
    port = free_port()
    with Host(["--workers", "2", "--listen", "127.0.0.1:%d" % port, harness.example("chat.lua")]) as h:
        check(h.wait_log(r"\[w2\] listening") and h.wait_log(r"\[w1\] listening"), h.stderr())
        clients = []
        for i in range(8):
            s = connect(port)
            check(recv_exactly(s, 6) == b"name? ")
            s.sendall(b"c%d\n" % i)
            check(recv_line(s) == b"hello c%d\n" % i)
            clients.append(s)
        clients[0].sendall(b"to everyone\n")
        for i, s in enumerate(clients):
            seen = []
            while True:
                line = recv_line(s)
                check(line, "c%d: closed after %r" % (i, seen))
                if line == b"c0: to everyone\n":
                    break
                seen.append(line)
        for s in clients:
            s.close()
        h.signal(signal.SIGINT)
        check(h.wait(15) == 0, h.stderr())
        check("ERROR" not in h.stderr(), h.stderr())
