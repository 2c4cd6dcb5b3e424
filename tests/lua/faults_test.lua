-- Faults: a handler that raises, a peer that resets, half-closes, floods
-- or stalls.  Each closes only what it concerns.
local host = require "host"
local h = require "helper"

describe("a handler that raises", function()
  it("closes only its connection; the listener and others go on", function()
    local l = h.serve(function(conn)
      local line = conn:read("l")
      if line == "boom" then error("handler blew up") end
      conn:send("fine: ", line, "\n")
      conn:read("a")
    end)
    local good = assert(host.connect(l.address))
    local bad = assert(host.connect(l.address))
    bad:send("boom\n")
    assert.same({ nil, "closed" }, { bad:recv() })
    good:send("hi\n")
    assert.equal("fine: hi", good:read("l"))
    local again = assert(host.connect(l.address))
    again:send("again\n")
    assert.equal("fine: again", again:read("l"))
    good:close(); bad:close(); again:close()
    l:close()
    local errs = task_errors()
    assert.equal(1, #errs)
    assert.matches("faults_test.lua:10: handler blew up", errs[1])
  end)

  it("with a non-string error object closes its connection too", function()
    local l = h.serve(function() error({ code = 42 }) end)
    local c = assert(host.connect(l.address))
    assert.same({ nil, "closed" }, { c:recv() })
    c:close()
    l:close()
    assert.matches("error object is a table value", task_errors()[1])
  end)

  it("a handler that returns closes its connection", function()
    local l = h.serve(function(conn) conn:send("bye") end)
    local c = assert(host.connect(l.address))
    assert.equal("bye", c:read("a"))
    c:close()
    l:close()
  end)

  it("a handler that runs out of its own stack is caught", function()
    local function deep(n) return deep(n + 1) + 1 end
    local l = h.serve(function() deep(1) end)
    local c = assert(host.connect(l.address))
    assert.same({ nil, "closed" }, { c:recv() })
    c:close()
    l:close()
    -- The handler holds no reference to its connection, which may be
    -- collected (and closed) while the recursion is paused by its time
    -- slice: the error can come a little after the close.
    local errs = task_errors()
    for _ = 1, 100 do
      if #errs > 0 then break end
      host.sleep(0.05)
      errs = task_errors()
    end
    assert.matches("stack overflow", errs[1])
  end)
end)

describe("a peer", function()
  it("that resets mid-send makes send return nil, 'reset'", function()
    local result
    local l = h.serve(function(conn)
      conn:read(1)
      local chunk = string.rep("z", 1 << 16)
      for _ = 1, 2000 do
        local ok, err = conn:send(chunk)
        if not ok then result = err return end
      end
      result = "sent everything"
    end)
    local c = assert(host.connect(l.address))
    c:send("x")
    c:recv(10) -- let the server start sending
    c:close("reset") -- abortive: the kernel sends RST
    h.eventually(function() return result end, 1)
    assert.truthy(result == "reset" or result == "closed")
    l:close()
  end)

  it("that half-closes can still read the reply", function()
    local l = h.serve(function(conn)
      local req = conn:read("a")
      conn:send("got ", #req, " bytes")
    end)
    local c = assert(host.connect(l.address))
    c:send("12345")
    c:shutdown()
    assert.equal("got 5 bytes", c:read("a"))
    c:close()
    l:close()
  end)

  it("that floods a line reader is cut off at the line limit", function()
    local result
    local l = h.serve(function(conn)
      result = { conn:read("l") }
    end, { maxline = 1024 })
    local c = assert(host.connect(l.address))
    host.spawn(function()
      local chunk = string.rep("f", 4096)
      for _ = 1, 64 do
        -- the test may close c first: a send on it then raises
        local ok, sent = pcall(c.send, c, chunk)
        if not ok or not sent then break end
      end
    end)
    h.eventually(function() return result end, 1)
    assert.same({ nil, "too long" }, result)
    c:close()
    l:close()
  end)

  it("that stalls is dropped by the timeout", function()
    local result
    local l = h.serve(function(conn)
      conn:settimeout(0.05)
      result = { conn:read("l") }
    end)
    local c = assert(host.connect(l.address))
    c:send("no end of line")
    h.eventually(function() return result end, 1)
    assert.same({ nil, "timeout" }, result)
    c:close()
    l:close()
  end)

  it("that never reads makes send time out", function()
    local result
    local l = h.serve(function(conn)
      conn:settimeout(0.1)
      local chunk = string.rep("s", 1 << 16)
      for _ = 1, 1000 do
        local ok, err = conn:send(chunk)
        if not ok then result = err return end
      end
      result = "sent everything"
    end)
    local c = assert(host.connect(l.address))
    h.eventually(function() return result end, 3)
    assert.equal("timeout", result)
    c:close()
    l:close()
  end)
end)

describe("memory", function()
  it("a big read('a') is bounded by maxread", function()
    local result
    local l = h.serve(function(conn)
      result = { conn:read("a") }
    end, { maxread = 100000 })
    local c = assert(host.connect(l.address))
    local sending, stop = true, false
    host.spawn(function()
      for _ = 1, 10 do
        -- The test may close c between two sends: look first.
        if stop or not c:send(string.rep("m", 65536)) then break end
      end
      sending = false
    end)
    h.eventually(function() return result end, 2)
    assert.same({ nil, "too long" }, result)
    stop = true
    h.eventually(function() return not sending end, 5) -- then close it
    c:close()
    l:close()
  end)
end)
