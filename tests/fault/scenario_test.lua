-- The scenario the fault walk (tests/fault/walk.py) runs over and over,
-- failing a different allocation each time: a bit of everything the host
-- allocates for.  Under injected faults its tests may fail; the host must
-- not crash, leak or hang.
local host = require "host"

local function lines_server(conn)
  conn:settimeout(2)
  for line in conn:lines() do
    if line == "bye" then return end
    conn:send(line:upper(), "\n")
  end
end

describe("scenario", function()
  it("serves, reads lines, sends, times out", function()
    local l = assert(host.listen("127.0.0.1:0", lines_server))
    local c = assert(host.connect(l.address, 2))
    c:settimeout(2)
    for i = 1, 5 do
      assert(c:send("message ", i, "\n"))
      assert.equal("MESSAGE " .. i, c:read("l"))
    end
    c:send("bye\n")
    assert.same({ nil, "closed" }, { c:recv() })
    c:close()
    l:close()
  end)

  it("spawns, sleeps, waits and wakes", function()
    local me, got = coroutine.running(), nil
    host.spawn(function(v) host.sleep(0.01); got = v; host.wakeup(me, v) end, 42)
    assert.equal(42, host.wait(2))
    assert.equal(42, got)
    assert.same({ nil, "timeout" }, { host.wait(0.01) })
  end)

  it("moves a larger stream", function()
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      local data = conn:read("a")
      conn:send(#data)
    end))
    local c = assert(host.connect(l.address))
    host.spawn(function() c:send(string.rep("s", 300000)); c:shutdown() end)
    assert.equal("300000", c:read("a"))
    c:close()
    l:close()
  end)

  it("slices a task that computes, lists tasks, keeps deadlines", function()
    local done = false
    host.spawn(function()
      local t = host.now()
      while host.now() - t < 0.05 do end -- past a few slices
      done = true
    end)
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      conn:setdeadline(0.05)
      conn:read("l")
    end, { idle = 1 }))
    local c = assert(host.connect(l.address))
    assert.truthy(#host.tasks() >= 2)
    assert.truthy(host.stats().total.tasks >= 2)
    assert.same({ nil, "closed" }, { c:recv() })
    while not done do host.sleep(0.01) end
    c:close()
    l:close()
  end)

  it("survives a handler that raises", function()
    local l = assert(host.listen("127.0.0.1:0", function() error("boom") end))
    local c = assert(host.connect(l.address))
    assert.same({ nil, "closed" }, { c:recv() })
    c:close()
    l:close()
    assert.matches("boom", task_errors()[1])
  end)
end)
