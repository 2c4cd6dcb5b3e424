-- Guards and windows (issue 12), as one worker sees them: time slices,
-- host.stats(), host.tasks(), the listener option idle,
-- conn:setdeadline.  The cpu limit, the watchdog, the connection limit
-- and the memory limit need options of their own: tests/e2e/guards_test.py.
local host = require "host"
local h = require "helper"

local function me() return host.stats().workers[host.worker] end

-- Spins (no host call that waits) for `seconds`.
local function spin(seconds)
  local t = host.now()
  local n = 0
  while host.now() - t < seconds do n = n + 1 end
  return n
end

describe("time slices", function()
  it("a task that computes is paused so that others are served", function()
    local l = h.serve(h.echo)
    local c = assert(host.connect(l.address))
    local yields = me().forced_yields
    local done = false
    host.spawn(function() spin(0.6); done = true end)
    host.sleep(0) -- the spinner starts
    -- Round trips while it spins: each one waits a slice at most, not
    -- the whole 0.6 s (2 s is the bound a loaded machine still meets).
    local worst, n = 0, 0
    while not done and n < 200 do
      local t = host.now()
      assert(c:send("x"))
      assert.equal("x", c:recv())
      worst = math.max(worst, host.now() - t)
      n = n + 1
    end
    assert.truthy(n >= 3, "round trips while it spun: " .. n)
    assert.truthy(worst < 0.5, "slowest round trip " .. worst)
    while not done do host.sleep(0.01) end
    assert.truthy(me().forced_yields > yields)
    c:close()
    l:close()
  end)

  it("a paused task counts as work to do while others run", function()
    -- Before a paused task takes its next slice the worker sends what the
    -- others wrote, and a timer may come due then.  Here that timer is the
    -- test runner's (it wakes every 50 ms to ask host._idle() whether
    -- anything could still end the test): this task starts a helper that
    -- runs 60 ms where it cannot be paused, then computes past its slice,
    -- so that it is paused behind the helper.  The runner's timer fires in
    -- the pump, and must find this task still to run, not a test that
    -- waits for nothing ("the test waits with nothing left ...").
    for _ = 1, 3 do
      -- Woken by a timer, after a turn that left nothing queued.
      host.sleep(0.001)
      local yields = me().forced_yields
      host.spawn(function()
        table.sort({ 2, 1 }, function(a, b) spin(0.06) return a < b end)
      end)
      -- Computes until the worker pauses it: a slice is CPU time, which
      -- on a loaded machine (a sanitizer build in CI) can take longer
      -- than a slice of wall time.
      local t0 = host.now()
      while me().forced_yields == yields and host.now() - t0 < 5 do
        spin(0.001)
      end
      assert.truthy(me().forced_yields > yields)
    end
  end)

  it("reaches a spin inside a coroutine the task resumed", function()
    local l = h.serve(h.echo)
    local c = assert(host.connect(l.address))
    local done = false
    host.spawn(function()
      local gen = coroutine.wrap(function() spin(0.4); coroutine.yield(1) end)
      gen()
      local co = coroutine.create(function() spin(0.4) end)
      assert(coroutine.resume(co))
      done = true
    end)
    host.sleep(0)
    local n = 0
    while not done do
      assert(c:send("y"))
      assert.equal("y", c:recv())
      n = n + 1
    end
    assert.truthy(n >= 3, "round trips while it spun: " .. n)
    c:close()
    l:close()
  end)

  it("does not pause a task inside table.sort, and it ends well", function()
    local t = {}
    for i = 1, 2000 do t[i] = (i * 7919) % 2003 end
    local calls = 0
    table.sort(t, function(a, b)
      calls = calls + 1
      if calls == 1 then spin(0.05) end -- past a slice, where it cannot yield
      return a < b
    end)
    for i = 2, #t do assert.truthy(t[i - 1] <= t[i]) end
  end)
end)

describe("host.stats()", function()
  it("has every worker and a total", function()
    local s = host.stats()
    assert.equal(host.workers, s.total.workers)
    local w = s.workers[host.worker]
    assert.equal(host.worker, w.worker)
    for _, k in ipairs { "connections_open", "connections_accepted",
      "connections_connected", "connections_closed", "bytes_in", "bytes_out",
      "tasks", "tasks_ready", "forced_yields", "cpu_kills", "memory_trims",
      "lua_memory",
      "buffer_memory", "memory_limit", "timers", "inbox" } do
      assert.equal("number", math.type(w[k]) and "number", k)
      assert.equal("number", math.type(s.total[k]) and "number", k)
    end
    for _, k in ipairs { "recv", "send", "connect", "sleep", "wait" } do
      assert.equal(0, w.waiting[k] - w.waiting[k], k)
    end
    for _, k in ipairs { "closed", "timeout", "reset", "refused", "too long",
      "no resources" } do
      assert.truthy(w.errors[k], k)
    end
    assert.truthy(w.lua_memory > 0)
    assert.truthy(w.memory_limit > 0)
  end)

  it("counts what a test did, exactly", function()
    local before = me()
    local l = h.serve(function(conn)
      local line = conn:read("l")
      conn:send(line:upper(), "\n")
      assert.same({ nil, "closed" }, { conn:read("l") })
    end)
    local n, msg = 3, "hello\n"
    for _ = 1, n do
      local c = assert(host.connect(l.address))
      assert(c:send(msg))
      assert.equal("HELLO", c:read("l"))
      c:close()
    end
    local sleeper = host.spawn(function() host.sleep(5) end)
    local waiter = host.spawn(function() host.wait() end)
    host.sleep(0.1) -- the handlers see their ends; the spawned tasks wait
    local after = me()
    assert.equal(n, after.connections_accepted - before.connections_accepted)
    assert.equal(n, after.connections_connected - before.connections_connected)
    assert.equal(2 * n, after.connections_closed - before.connections_closed)
    assert.equal(before.connections_open, after.connections_open)
    -- Both ends are ours: each byte is counted out once and in once.
    assert.equal(2 * n * #msg, after.bytes_in - before.bytes_in)
    assert.equal(2 * n * #msg, after.bytes_out - before.bytes_out)
    assert.equal(n, after.errors.closed - before.errors.closed)
    assert.equal(before.waiting.sleep + 1, after.waiting.sleep)
    assert.equal(before.waiting.wait + 1, after.waiting.wait)
    assert.equal(before.tasks + 2, after.tasks)
    host.wakeup(waiter)
    host._cancel(sleeper)
    l:close()
  end)

  it("counts a timeout and a refusal by their words", function()
    local before = me().errors
    local q = h.accepting()
    local c = assert(host.connect(q.listener.address))
    local s = q.accept()
    s:settimeout(0.05)
    assert.same({ nil, "timeout" }, { s:read("l") })
    local port = q.listener.address:match(":(%d+)$")
    q.listener:close()
    host.sleep(0.05)
    local r, err = host.connect("127.0.0.1:" .. port, 2)
    if r then r:close() else assert.equal("refused", err) end
    local after = me().errors
    assert.equal(1, after.timeout - before.timeout)
    c:close()
    s:close()
  end)
end)

describe("giving memory back", function()
  it("waits until the worker is quiet", function()
    -- First a trim while quiet, so that the busy worker's own (at most
    -- once a minute) is not due in what follows.
    local trims = me().memory_trims
    do
      local big = {}
      for i = 1, 512 do big[i] = string.rep("x", 4096) .. i end
      host.sleep(0.05) -- held while the worker looks
    end
    assert.truthy(h.eventually(function()
      return me().memory_trims > trims
    end, 5))
    trims = me().memory_trims
    -- Busy for 2.5 s: a MiB of garbage per round, most of a CPU (5 ms of
    -- it per round, whatever a sleep of 1 ms takes here), and the loop
    -- about to wait between rounds (where a trim is considered).  A trim
    -- then would be a full collection per second, for memory the next
    -- rounds need again.
    local keep = {}
    local deadline = host.now() + 2.5
    while host.now() < deadline do
      for i = 1, 256 do keep[i] = string.rep("x", 4096) .. i end
      spin(0.005)
      host.sleep(0.001)
    end
    keep = nil
    assert.equal(trims, me().memory_trims)
    -- Quiet now: the peak goes back within about a second.
    assert.truthy(h.eventually(function()
      return me().memory_trims > trims
    end, 5))
  end)
end)

describe("host.tasks()", function()
  it("lists this worker's tasks with what they wait on", function()
    local l = h.serve(function(conn) conn:read("l") end)
    local c = assert(host.connect(l.address))
    local sleeper = host.spawn(function() host.sleep(5) end)
    host.sleep(0.05)
    local tasks = host.tasks()
    local me_t, handler, sleeping
    for i, t in ipairs(tasks) do
      if i > 1 then assert.truthy(tasks[i - 1].id < t.id) end
      if t.co == coroutine.running() then me_t = t end
      if t.co == sleeper then sleeping = t end
      if t.kind == "handler" and t.peer == c.address then handler = t end
    end
    assert.equal("running", me_t.waits)
    assert.matches("guards_test.lua:%d+", me_t.traceback)
    assert.equal("spawn", sleeping.kind)
    assert.equal("sleep", sleeping.waits)
    assert.truthy(sleeping.since <= host.now())
    assert.truthy(host.now() - sleeping.since < 5)
    assert.equal("recv", handler.waits)
    assert.matches("guards_test.lua:%d+", handler.traceback)
    assert.matches("in method 'read'", handler.traceback)
    assert.is_true(host._cancel(sleeper))
    assert.is_false(host._cancel(coroutine.running())) -- not itself
    c:close()
    l:close()
  end)
end)

describe("the listener option idle", function()
  it("closes a connection whose peer says nothing for that long", function()
    local got, took
    local l = h.serve(function(conn)
      local t = host.now()
      got = { conn:read("l") }
      took = host.now() - t
    end, { idle = 0.2 })
    local c = assert(host.connect(l.address))
    assert.same({ nil, "closed" }, { c:recv() })
    assert.same({ nil, "closed" }, got)
    assert.truthy(took >= 0.19 and took < 2, took)
    c:close()
    l:close()
  end)

  it("counts from the last byte that arrived", function()
    local got
    local l = h.serve(function(conn)
      got = conn:read("l")
      conn:send("ok\n")
    end, { idle = 0.3 })
    local c = assert(host.connect(l.address))
    for _ = 1, 5 do -- 0.5 s in all, never 0.3 s of silence
      assert(c:send("a"))
      host.sleep(0.1)
    end
    assert(c:send("\n"))
    assert.equal("ok", c:read("l"))
    assert.equal("aaaaa", got)
    c:close()
    l:close()
  end)

  it("rejects a negative value", function()
    checkerr("option 'idle'", host.listen, "127.0.0.1:0", h.echo, { idle = -1 })
  end)
end)

describe("conn:setdeadline", function()
  it("bounds a read however slowly the bytes trickle in", function()
    local got, took
    local l = h.serve(function(conn)
      conn:settimeout(1) -- per operation: the trickle alone never trips it
      conn:setdeadline(0.3)
      local t = host.now()
      got = { conn:read("l") }
      took = host.now() - t
      got.kept = conn:buffered() -- what came stays for the next read
    end)
    local c = assert(host.connect(l.address))
    for _ = 1, 8 do
      if not c:send("x") then break end
      host.sleep(0.1)
    end
    assert.same({ nil, "timeout" }, { got[1], got[2] })
    assert.truthy(got.kept >= 3, got.kept)
    assert.truthy(took >= 0.29 and took < 2, took) -- not the 0.8 s trickle
    c:close()
    l:close()
  end)

  it("is past: a read that would wait times out at once", function()
    local q = h.accepting()
    local c = assert(host.connect(q.listener.address))
    local s = q.accept()
    s:setdeadline(0)
    local t = host.now()
    assert.same({ nil, "timeout" }, { s:read("l") })
    assert.truthy(host.now() - t < 0.5)
    assert(c:send("ready\n"))
    host.sleep(0.05)
    assert.equal("ready", s:read("l")) -- buffered: no wait, no timeout
    s:setdeadline(nil)
    assert(c:send("later\n"))
    assert.equal("later", s:read("l"))
    c:close()
    s:close()
    q.listener:close()
  end)

  it("shortens a read already waiting", function()
    local q = h.accepting()
    local c = assert(host.connect(q.listener.address))
    local s = q.accept()
    local got
    host.spawn(function() got = { s:read("l") } end)
    host.sleep(0.05)
    s:setdeadline(0.1)
    host.sleep(0.4)
    assert.same({ nil, "timeout" }, got)
    c:close()
    s:close()
    q.listener:close()
  end)

  it("bounds a send to a peer that does not read", function()
    local q = h.accepting()
    local c = assert(host.connect(q.listener.address))
    local s = q.accept()
    s:setdeadline(0.3)
    local big = ("z"):rep(1 << 20)
    local ok, err
    local t = host.now()
    for _ = 1, 64 do
      ok, err = s:send(big)
      if not ok then break end
    end
    assert.same({ nil, "timeout" }, { ok, err })
    assert.truthy(host.now() - t < 3)
    c:close()
    s:close()
    q.listener:close()
  end)

  it("rejects a negative time", function()
    local q = h.accepting()
    local c = assert(host.connect(q.listener.address))
    checkerr("negative", c.setdeadline, c, -1)
    c:close()
    q.accept():close()
    q.listener:close()
  end)
end)
