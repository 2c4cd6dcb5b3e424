-- The host module: listen, connect, time, tasks, identity, logging.
local host = require "host"
local h = require "helper"

describe("host.listen", function()
  it("port 0 picks a free port; address tells which", function()
    local l = h.serve(h.echo)
    local port = tonumber(l.address:match(":(%d+)$"))
    assert.truthy(port > 0)
    assert.matches("^127%.0%.0%.1:%d+$", l.address)
    assert.matches("^host.listener %(127%.0%.0%.1:%d+%)$", tostring(l))
    l:close()
    assert.equal("host.listener (closed)", tostring(l))
    checkerr("attempt to use a closed listener", l.close, l)
  end)

  it("listens on IPv6 loopback", function()
    local l, err = host.listen("[::1]:0", h.echo)
    if not l then
      pending("no IPv6 here: " .. tostring(err))
      return
    end
    assert.matches("^%[::1%]:%d+$", l.address)
    local c = assert(host.connect(l.address))
    c:send("six")
    assert.equal("six", c:read(3))
    c:close()
    l:close()
  end)

  it("'*' listens on every interface, IPv4 loopback included", function()
    local l = assert(host.listen("*:0", h.echo))
    local port = l.address:match(":(%d+)$")
    local c = assert(host.connect("127.0.0.1:" .. port))
    c:send("any")
    assert.equal("any", c:read(3))
    c:close()
    l:close()
  end)

  it("a closed listener's port can be listened on again at once", function()
    local l = h.serve(h.echo)
    local addr = l.address
    l:close()
    local l2 = assert(host.listen(addr, h.echo))
    l2:close()
  end)

  it("returns nil, 'address already in use' for a taken port", function()
    local l = h.serve(h.echo)
    local l2, err = host.listen(l.address, h.echo)
    assert.is_nil(l2)
    assert.equal("address already in use", err)
    l:close()
  end)

  it("raises on a malformed address or handler", function()
    checkerr("expected ip:port", host.listen, "nope", h.echo)
    checkerr("bad port", host.listen, "127.0.0.1:70000", h.echo)
    checkerr("bad IPv6 address", host.listen, "[zz]:1", h.echo)
    checkerr("function expected", host.listen, "127.0.0.1:0", "not a function")
    checkerr("table expected", host.listen, "127.0.0.1:0", h.echo, 5)
    checkerr("out of range", host.listen, "127.0.0.1:0", h.echo, { maxline = 0 })
  end)

  it("each connection runs the handler in its own task", function()
    local seen = {}
    local l = h.serve(function(conn)
      seen[#seen + 1] = coroutine.running()
      conn:read("a")
    end)
    local a = assert(host.connect(l.address))
    local b = assert(host.connect(l.address))
    host.sleep(0.02)
    assert.equal(2, #seen)
    assert.truthy(seen[1] ~= seen[2])
    a:close()
    b:close()
    l:close()
  end)

  it("closing the listener keeps its connections", function()
    local l = h.serve(h.echo)
    local addr = l.address
    local c = assert(host.connect(addr))
    l:close()
    assert.same({ nil, "refused" }, { host.connect(addr) })
    c:send("still")
    assert.equal("still", c:read(5))
    c:close()
  end)

  it("the timeout option applies to accepted connections", function()
    local got
    local l = h.serve(function(conn) got = { conn:recv() } end, { timeout = 0.05 })
    local c = assert(host.connect(l.address))
    host.sleep(0.15)
    assert.same({ nil, "timeout" }, got)
    c:close()
    l:close()
  end)
end)

describe("host.connect", function()
  it("returns nil, 'refused' when nothing listens", function()
    local l = h.serve(h.echo)
    local addr = l.address
    l:close()
    local c, err = host.connect(addr)
    assert.is_nil(c)
    assert.equal("refused", err)
  end)

  it("raises on a malformed address", function()
    checkerr("expected host:port", host.connect, "nowhere")
    checkerr("cannot connect to '*'", host.connect, "*:80")
    checkerr("negative timeout", host.connect, "127.0.0.1:1", -1)
  end)
end)

describe("time", function()
  it("host.sleep waits at least that long", function()
    local t0 = host.now()
    host.sleep(0.05)
    local dt = host.now() - t0
    assert.truthy(dt >= 0.05)
    assert.truthy(dt < 1)
  end)

  it("host.sleep(0) lets other ready tasks run first", function()
    local order = {}
    host.spawn(function() order[#order + 1] = "spawned" end)
    host.sleep(0)
    order[#order + 1] = "sleeper"
    assert.same({ "spawned", "sleeper" }, order)
  end)

  it("host.sleep raises on a NaN", function()
    checkerr("not a number", host.sleep, 0 / 0)
  end)

  it("host.wait raises on a NaN", function()
    checkerr("not a number", host.wait, 0 / 0)
  end)

  it("host.now is monotonic seconds", function()
    local a = host.now()
    local b = host.now()
    assert.is_number(a)
    assert.truthy(b >= a)
  end)

  it("sleepers wake in deadline order", function()
    local order = {}
    for _, d in ipairs { 0.03, 0.01, 0.02 } do
      host.spawn(function() host.sleep(d); order[#order + 1] = d end)
    end
    host.sleep(0.06)
    assert.same({ 0.01, 0.02, 0.03 }, order)
  end)
end)

describe("tasks", function()
  it("host.spawn runs fn with its arguments and returns the coroutine", function()
    local got
    local co = host.spawn(function(a, b) got = a + b end, 2, 3)
    assert.is_thread(co)
    host.sleep(0)
    assert.equal(5, got)
  end)

  it("host.wait returns what host.wakeup passes", function()
    local me = coroutine.running()
    host.spawn(function() host.wakeup(me, "a", 2, nil) end)
    assert.same(table.pack("a", 2, nil), table.pack(host.wait()))
  end)

  it("host.wait times out with nil, 'timeout'", function()
    assert.same({ nil, "timeout" }, { host.wait(0.02) })
  end)

  it("host.wakeup of a task that is not waiting returns false", function()
    local co = host.spawn(function() host.sleep(0.01) end)
    host.sleep(0)
    assert.is_false(host.wakeup(co))
    assert.is_false(host.wakeup(coroutine.running()))
  end)

  it("host.wakeup raises when the task cannot take that many values", function()
    -- The waiting task holds 800,000 values on its stack: 300,000 more
    -- would pass Lua's stack limit (LUAI_MAXSTACK, 1,000,000 slots).
    local many = {}
    for i = 1, 800000 do many[i] = i end
    local got
    local co = host.spawn(function()
      local function hold(...) got = table.pack(host.wait()) end
      hold(table.unpack(many))
    end)
    assert.equal("wait", h.eventually(function() return h.waits(co) == "wait" and "wait" end))
    checkerr("too many values to pass", function()
      return host.wakeup(co, table.unpack(many, 1, 300000))
    end)
    assert.is_true(host.wakeup(co, "only")) -- still waiting: nothing was passed
    host.sleep(0)
    assert.same(table.pack("only"), got)
  end)

  it("host.spawn passes as many arguments as the new task's stack holds", function()
    -- task_spawn moved fn and its arguments into the new thread without
    -- growing its stack: past its first few dozen slots that wrote beyond
    -- it (and `host script.lua` with that many arguments hung).
    local many = {}
    for i = 1, 100000 do many[i] = i end
    local got
    host.spawn(function(...) got = select("#", ...) end, table.unpack(many))
    -- a slice may pause the new task (wall time on Windows) before it
    -- counts: wait for it, a bounded while
    for _ = 1, 200 do
      if got then break end
      host.sleep(0.01)
    end
    assert.equal(100000, got)
  end)

  it("an error in a spawned task ends only that task", function()
    local after = false
    host.spawn(function() error("boom") end)
    host.spawn(function() after = true end)
    host.sleep(0.01)
    assert.is_true(after)
    assert.matches("host_test.lua:%d+: boom", task_errors()[1])
  end)

  it("coroutine.yield straight out of a task raises in it", function()
    local reached = false
    host.spawn(function() coroutine.yield(); reached = true end)
    host.sleep(0.01)
    assert.is_false(reached)
    assert.matches("coroutine.yield%(%) in a host task", task_errors()[1])
    local ok, err = pcall(coroutine.yield)
    assert.is_false(ok)
    assert.matches("nothing would resume it", err)
  end)

  it("host calls refuse to run outside a host task", function()
    local co = coroutine.wrap(function() return pcall(host.sleep, 0) end)
    local ok, err = co()
    assert.is_false(ok)
    assert.matches("host.sleep must be called from a host task", err)
  end)

  it("yields across pcall", function()
    local ok, v = pcall(function() host.sleep(0.001); return 42 end)
    assert.is_true(ok)
    assert.equal(42, v)
  end)
end)

describe("identity", function()
  it("knows its worker, workers, backend and version", function()
    assert.equal(1, host.worker)
    assert.equal(1, host.workers)
    assert.truthy(host.backend == "io_uring" or host.backend == "epoll" or host.backend == "iocp")
    assert.is_string(host.version)
    assert.is_table(host.arg)
  end)

  it("the backend is the one asked for", function()
    local want = os.getenv("HOST_EXPECT_BACKEND")
    if want then assert.equal(want, host.backend) end
  end)

  it("host.log takes a level and any values", function()
    host.log("debug", "a", 1, nil, true)
    checkerr("invalid option 'loud'", host.log, "loud", "x")
  end)

  it("C modules from Debian's lua packages load (cjson)", function()
    local ok, cjson = pcall(require, "cjson")
    if not ok then
      pending("lua-cjson is not installed")
      return
    end
    assert.equal('{"a":1}', cjson.encode({ a = 1 }))
  end)
end)

describe("host.listener", function()
  it("closes at the end of its block as a to-be-closed variable", function()
    local addr
    do
      local l <close> = assert(host.listen("127.0.0.1:0", function() end))
      addr = l.address
      assert.truthy(host.connect(addr))
    end
    local c, err = host.connect(addr)
    assert.is_nil(c)
    assert.equal("refused", err)
  end)
end)

describe("handler threads", function()
  it("are reused only when the script never held one", function()
    local held = {}
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      if conn:read("l") == "hold" then held[#held + 1] = coroutine.running() end
      conn:send("ok\n")
    end))
    for _, what in ipairs { "hold", "plain", "plain", "hold" } do
      local c = assert(host.connect(l.address))
      c:send(what, "\n")
      assert.equal("ok", c:read("l"))
      c:close()
    end
    host.sleep(0.02)
    -- A thread the script kept is dead and stays its own: waking it does
    -- nothing, and no new handler runs on it.
    local l2 = assert(host.listen("127.0.0.1:0", function(conn)
      host.wait(1)
      conn:send(coroutine.running() == held[1] and "same\n" or "new\n")
    end))
    local c = assert(host.connect(l2.address))
    host.sleep(0.02)
    for _, co in ipairs(held) do
      assert.is_false(host.wakeup(co))
      assert.equal("dead", coroutine.status(co))
    end
    assert.equal("new", c:read("l"))
    c:close()
    l:close()
    l2:close()
  end)
end)

describe("the collector", function()
  -- Each VM starts in generational mode; a minor collection waits for the
  -- heap to grow by 40% (src/lua/lmain.c), not by Lua's default 20%.
  it("is generational", function()
    assert.equal("generational", collectgarbage("incremental"))
    assert.equal("incremental", collectgarbage("generational"))
  end)

  it("lets the heap grow by 40% before a minor collection", function()
    -- From one collection to the next, counted by the drops in the heap's
    -- size: when the first comes depends on what earlier tests left, so
    -- the growth counts from it to the second.
    local keep, before, drops, base, peak = {}, collectgarbage("count"), 0
    for i = 1, 200000 do
      keep[i % 2] = string.rep("x", 1000) -- garbage after two rounds
      local now = collectgarbage("count")
      if now < before then
        drops = drops + 1
        if drops == 2 then break end
        base = now
      end
      peak, before = now, now
    end
    assert.equal(2, drops)
    local growth = peak / base
    assert.truthy(growth > 1.32 and growth < 1.48)
  end)

  -- The growth of the heap from now to the next collection, as a ratio.
  local function growth_to_next()
    local base, peak = collectgarbage("count"), nil
    local keep, prev = {}, base
    for i = 1, 20000 do
      keep[i % 2] = string.rep("x", 1000)
      local now = collectgarbage("count")
      if now < prev then return peak / base end
      peak, prev = now, now
    end
    return math.huge
  end

  it("collects as usual after the worker gives memory back", function()
    -- 8 MiB that turns to garbage, then waits: the worker gives memory
    -- back before it blocks (a full collection, as it holds 1 MiB more
    -- than at its last trim).  Lua 5.4.4's full collection in
    -- generational mode leaves the collector's debt as it was, less what
    -- it freed; unless the host resets it, the next collection waits for
    -- 8 MiB more garbage.
    local before = collectgarbage("count")
    do
      local big = {}
      for i = 1, 8192 do big[i] = string.rep("x", 1000) .. i end
    end
    assert.truthy(h.eventually(function()
      return collectgarbage("count") < before + 1024
    end, 5))
    assert.truthy(growth_to_next() < 1.6)
  end)

  it("collects as usual after collectgarbage()", function()
    -- As above, with the script's own full collection.
    do
      local big = {}
      for i = 1, 8192 do big[i] = string.rep("x", 1000) .. i end
    end
    assert.equal(0, collectgarbage())
    assert.truthy(growth_to_next() < 1.6)
    do
      local big = {}
      for i = 1, 8192 do big[i] = string.rep("x", 1000) .. i end
    end
    assert.equal(0, collectgarbage("collect"))
    assert.truthy(growth_to_next() < 1.6)
  end)

  it("keeps the rest of collectgarbage as Lua has it", function()
    assert.equal("number", math.type(collectgarbage("count")) and "number")
    assert.is_true(collectgarbage("isrunning"))
    assert.equal("generational", collectgarbage("incremental"))
    assert.equal(0, collectgarbage()) -- incremental: Lua's full collection
    assert.equal("incremental", collectgarbage("generational"))
    checkerr("bad argument #1 to 'collectgarbage' (invalid option 'bogus')",
      collectgarbage, "bogus")
    -- From a finalizer, while the collector runs it: fail, as Lua's.
    local got = "not run"
    setmetatable({}, { __gc = function() got = collectgarbage() end })
    collectgarbage()
    assert.is_nil(got)
  end)
end)
