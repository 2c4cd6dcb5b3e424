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

  it("serves HTTP (pipelined, chunked, a big head) and a WebSocket", function()
    local http = require "host.http"
    local srv = assert(http.listen("127.0.0.1:0", function(req, res)
      if req.path == "/ws" then
        local ws = http.websocket(req, res)
        if not ws then return end
        local data = ws:recv()
        if data then ws:send(data) end
        return ws:close(1000, "", 1)
      end
      local body = req:body() or ""
      res:start(200, { ["X-Len"] = #body, ["X-Agent"] = req.headers["user-agent"] })
      res:write(body)
      res:finish(req.path)
    end, { header_timeout = 2, body_timeout = 2 }))
    local c = assert(host.connect(srv.address, 2))
    c:settimeout(2)
    c:send("GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " .. string.rep("b", 3000) .. "\r\n\r\n" ..
      "POST /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    local got = c:read("a")
    c:close()
    local r = assert(http.request { url = srv.url .. "/c", method = "PUT", body = "xyz", timeout = 2 })
    assert.equal("xyz/c", r.body)
    local ws = assert(http.websocket_connect("ws://" .. srv.address .. "/ws", { timeout = 2 }))
    ws:send("hi")
    assert.equal("hi", (ws:recv(2)))
    ws:close(1000, "", 1)
    srv:close()
    assert.truthy(got)
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
    local errs = task_errors() -- expected: taken, so they do not fail the test
    assert.equal(1, #errs)
    assert.truthy(errs[1]:find("boom", 1, true))
  end)
end)

describe("cooperation", function()
  it("shares a dictionary", function()
    local d = host.shared("fault", 1)
    assert(d:set("k", string.rep("x", 2000))) -- get grows the scratch buffer
    assert.equal(2000, #d:get("k"))
    assert.equal(1, d:incr("n", 1, 0))
    assert.equal(1, d:rpush("l", "a"))
    assert.equal("a", d:lpop("l"))
    assert.truthy(#d:keys() >= 2)
    assert.truthy(d:stats().items >= 2)
  end)

  it("posts, waits for and receives messages", function()
    assert(host.post(1, { a = { 1, 2 } }, "two"))
    local from, t, s = host.receive(1)
    assert.equal(1, from)
    assert.same({ a = { 1, 2 } }, t)
    assert.equal("two", s)
    host.spawn(function() host.sleep(0.01); host.post(1, "late") end)
    assert.equal("late", select(2, host.receive(2))) -- waits in line
    assert(host.broadcast("nobody else"))
    assert.same({ nil, "timeout" }, { host.receive(0.01) })
  end)
end)
