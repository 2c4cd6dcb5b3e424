-- host.post, host.broadcast, host.receive.  `host test` runs one worker,
-- so these tests post to themselves (worker 1); what crosses workers is
-- in tests/e2e/coop_test.py.
local host = require "host"

-- Receives whatever is queued, without waiting.
local function drain()
  local n = 0
  while host.receive(0) do n = n + 1 end
  return n
end

describe("messages", function()
  before_each(function() drain() end)

  it("arrive with their sender, in the order sent", function()
    for i = 1, 1000 do assert.is_true(host.post(1, i)) end
    for i = 1, 1000 do
      local from, v = host.receive(1)
      assert.equal(1, from)
      assert.equal(i, v)
    end
    assert.same({ nil, "timeout" }, { host.receive(0) })
  end)

  it("carry several values, nils included", function()
    host.post(1, 1, nil, "three", nil)
    assert.same({ n = 5, 1, 1, nil, "three", nil }, table.pack(host.receive(1)))
    host.post(1)
    assert.same({ n = 1, 1 }, table.pack(host.receive(1)))
  end)

  it("round-trip tables, numbers and binary strings", function()
    local msg = {
      name = "x\0y", list = { 1, 2.0, "three", false, { deep = { deeper = true } } },
      [10] = "ten", [2.5] = "float key", [true] = "bool key",
      ints = { math.maxinteger, math.mininteger, -0.0, 1e300 },
    }
    host.post(1, msg, 0 / 0)
    local from, got, nan = host.receive(1)
    assert.equal(1, from)
    assert.same(msg, got)
    assert.equal("integer", math.type(got.list[1]))
    assert.equal("float", math.type(got.list[2]))
    assert.equal("-0.0", tostring(got.ints[3]))
    assert.truthy(nan ~= nan)
    assert.is_nil(getmetatable(got))
  end)

  it("a shared table arrives as two copies; metatables stay behind", function()
    local t = setmetatable({ 1 }, { __index = function() return "meta" end })
    host.post(1, { a = t, b = t })
    local _, got = host.receive(1)
    assert.same({ 1 }, got.a)
    assert.are_not.equal(got.a, got.b)
    assert.is_nil(got.a[2])
  end)

  it("a waiting task gets a message posted later", function()
    host.spawn(function() host.sleep(0.01); host.post(1, "late") end)
    local from, v = host.receive(2)
    assert.equal(1, from)
    assert.equal("late", v)
  end)

  it("several waiting tasks each get one message, oldest first", function()
    local got, done = {}, 0
    local me = coroutine.running()
    for i = 1, 3 do
      host.spawn(function()
        local _, v = host.receive(2)
        got[i] = v
        done = done + 1
        if done == 3 then host.wakeup(me, true) end
      end)
    end
    host.sleep(0) -- all three wait now
    host.sleep(0)
    for i = 1, 3 do host.post(1, "m" .. i) end
    assert.is_true(host.wait(2))
    assert.same({ "m1", "m2", "m3" }, got)
  end)

  it("a task waits in line behind those already waiting", function()
    local first
    host.spawn(function() first = select(2, host.receive(2)) end)
    host.sleep(0)
    host.post(1, "a")
    host.post(1, "b")
    -- "a" is the waiting task's, although this task asks before it runs
    local _, v = host.receive(2)
    assert.equal("b", v)
    host.sleep(0)
    assert.equal("a", first)
  end)

  it("times out, and receive(0) only looks", function()
    local t0 = host.now()
    assert.same({ nil, "timeout" }, { host.receive(0.03) })
    assert.truthy(host.now() - t0 >= 0.025)
    assert.same({ nil, "timeout" }, { host.receive(0) })
    -- a timed-out receiver no longer takes messages
    host.post(1, "kept")
    assert.same({ 1, "kept" }, { host.receive(0) })
  end)

  it("a full inbox says 'full', and nothing is lost or duplicated", function()
    local sent = 0
    while true do
      local ok, err = host.post(1, sent + 1)
      if not ok then
        assert.equal("full", err)
        break
      end
      sent = sent + 1
    end
    assert.equal(65536, sent) -- the default --inbox
    assert.same({ nil, "full" }, { host.post(1, 0) })
    local prev = 0
    for _ = 1, sent do
      local _, v = host.receive(0)
      assert.equal(prev + 1, v)
      prev = v
    end
    assert.equal(sent, prev)
    assert.same({ nil, "timeout" }, { host.receive(0) })
    assert.is_true(host.post(1, "room again"))
    assert.equal("room again", select(2, host.receive(0)))
  end)

  it("broadcast reaches every other worker: none here", function()
    assert.is_true(host.broadcast("hello", { 1 }))
    assert.same({ nil, "timeout" }, { host.receive(0) })
    checkerr("cannot send a function", host.broadcast, print)
  end)

  it("misuse raises with a clear message", function()
    checkerr("cannot send a function (in argument 2)", host.post, 1, print)
    checkerr("cannot send a function (in argument 3, field 'cb')",
             host.post, 1, 1, { cb = print })
    local t = {}
    t.self = t
    checkerr("cannot send a table that contains itself (in argument 2, field 'self')",
             host.post, 1, t)
    checkerr("cannot send a coroutine", host.post, 1, coroutine.running())
    checkerr("cannot send a userdata", host.post, 1, io.stdout)
    checkerr("bad argument #1 to 'host.post' (no such worker)", host.post, 2, "x")
    checkerr("no such worker", host.post, 0, "x")
    checkerr("number expected, got string", host.post, "w1", "x")
    checkerr("message too large", host.post, 1, string.rep("x", 17 * 1048576))
    checkerr("not a number", host.receive, 0 / 0)
    assert.same({ nil, "timeout" }, { host.receive(0) }) -- nothing half-sent
  end)

  it("receive must be called from a task", function()
    local co = coroutine.wrap(function() return host.receive(0) end)
    checkerr("host.receive must be called from a host task", co)
    local ok, err = pcall(table.sort, { 1, 2 }, function() host.receive(1) end)
    assert.is_false(ok)
    assert.matches("cannot wait inside a C function", err)
  end)

  it("a big message goes through", function()
    local big = string.rep("0123456789abcdef", 65536) -- 1 MiB
    host.post(1, big, { big })
    local _, a, t = host.receive(1)
    assert.equal(big, a)
    assert.equal(big, t[1])
  end)
end)
