-- Script faults: every host call that may wait, made where Lua cannot
-- yield, from a coroutine the script made, or on a task the script tries
-- to resume itself.  Each must fail with a clear error for the task that
-- made it, leave that task and its connection whole, and leave every
-- other task and connection running.  Where Lua 5.4.4 itself allows the
-- yield (pcall, a __close on a normal exit from its block, metamethods
-- the VM calls), the call must simply work.
local host = require "host"
local h = require "helper"

-- ---- fixtures -------------------------------------------------------------

-- err (a message) must contain text, as plain text.
local function has(text, err)
  assert(type(err) == "string" and err:find(text, 1, true),
    ("expected an error containing %q, got: %s"):format(text, tostring(err)))
end

-- A connected pair and its listener; the server side is `peer`.
local function pair()
  local server = h.accepting()
  local client = assert(host.connect(server.listener.address))
  local peer = server.accept()
  return { client = client, peer = peer, listener = server.listener }
end

local function unpair(p)
  h.close(p.client)
  h.close(p.peer)
  p.listener:close()
end

-- Another connection, echoed by a handler, pinged by a task of its own
-- every 10 ms while the case runs: check() says it never stopped.
local function witness()
  local l = h.serve(h.echo)
  local c = assert(host.connect(l.address))
  local pings, stop, failed = 0, false, nil
  local done = false
  host.spawn(function()
    while not stop do
      local msg = "ping " .. pings .. "\n"
      local ok, err = c:send(msg)
      if not ok then failed = "send: " .. tostring(err) break end
      local back = c:read("l")
      if back ~= msg:sub(1, -2) then failed = "read: " .. tostring(back) break end
      pings = pings + 1
      host.sleep(0.01)
    end
    done = true
  end)
  host.sleep(0.03)
  local before = pings
  return function()
    host.sleep(0.05)
    local after = pings
    stop = true
    assert(h.eventually(function() return done end), "the witness task did not end")
    c:close()
    l:close()
    assert(not failed, "the witness connection broke: " .. tostring(failed))
    assert(after > before, "the witness task stopped running")
  end
end

-- The host calls that may wait.  Each takes the pair (and a listener
-- address for host.connect) and returns what the call returned.
local calls = {
  { "conn:recv", function(p) return p.peer:recv() end },
  { "conn:read", function(p) return p.peer:read(1) end },
  { "conn:send", function(p) return p.peer:send("x") end },
  { "conn:lines", function(p) for line in p.peer:lines() do return line end end },
  { "host.sleep", function() return host.sleep(0.01) end },
  { "host.wait", function() return host.wait(0.01) end },
  { "host.connect", function(p) return host.connect(p.listener.address) end },
}

-- After a call that raised before it could start, the task and the
-- connection are as they were: what the client sent is still there
-- (unless the call was a read that must not have taken it: it was not),
-- a send works, and no connection was made by a refused host.connect.
local function still_whole(p)
  assert.is_true(p.client:send("1\n"))
  assert.equal("1", p.peer:read("l"))
  assert.is_true(p.peer:send("2\n"))
  assert.equal("2", p.client:read("l"))
  host.sleep(0)
end

-- Where Lua cannot yield: each runs `call` there and returns pcall's
-- results of the whole thing (false, message when it raised).
local unyieldable = {
  { "a table.sort comparator", function(call)
    return pcall(table.sort, { 3, 1, 2 }, function(a, b) call() return a < b end)
  end },
  { "a string.gsub callback", function(call)
    return pcall(string.gsub, "abc", "%w", function() call() end)
  end },
  { "__tostring called by tostring()", function(call)
    local o = setmetatable({}, { __tostring = function() call() return "o" end })
    return pcall(tostring, o)
  end },
  { "__tostring called by string.format", function(call)
    local o = setmetatable({}, { __tostring = function() call() return "o" end })
    return pcall(string.format, "%s", o)
  end },
  { "a load() reader", function(call)
    local once = false
    local ok, f, err = pcall(load, function()
      if once then return nil end
      once = true
      call()
      return "return 1"
    end)
    if ok and f == nil then return false, err end -- load returns its reader's error
    return ok, f
  end },
  { "a module's main chunk run by require", function(call)
    local name = "script_faults_module_" .. tostring(math.random(1 << 30))
    package.preload[name] = function() call() return true end
    local r = table.pack(pcall(require, name))
    package.preload[name] = nil
    package.loaded[name] = nil
    return table.unpack(r, 1, r.n)
  end },
}

local WAIT_ERR = "cannot wait inside a C function"

describe("a host call where Lua cannot yield", function()
  for _, ctx in ipairs(unyieldable) do
    for _, c in ipairs(calls) do
      local what, call = c[1], c[2]
      it(what .. " in " .. ctx[1] .. " raises, and nothing else breaks", function()
        local p = pair()
        local check = witness()
        local accepted = 0
        local l = h.serve(function() accepted = accepted + 1 end)
        local target = { client = p.client, peer = p.peer, listener = l }
        local ok, err = ctx[2](function() return call(target) end)
        assert.is_false(ok)
        has(WAIT_ERR, err)
        has(what, err)
        still_whole(p)
        host.sleep(0.02)
        assert.equal(0, accepted) -- a refused host.connect connected nothing
        l:close()
        check()
        unpair(p)
      end)
    end
  end

  for _, c in ipairs(calls) do
    local what, call = c[1], c[2]
    it(what .. " in a pcall-wrapped comparator: the pcall catches it", function()
      local p = pair()
      local check = witness()
      local errs = {}
      table.sort({ 3, 1, 2 }, function(a, b)
        local ok, err = pcall(call, p)
        if not ok then errs[#errs + 1] = err end
        return a < b
      end)
      assert.truthy(#errs > 0)
      for _, err in ipairs(errs) do has(WAIT_ERR, err) end
      still_whole(p)
      check()
      unpair(p)
    end)

    it(what .. " in a __gc: refused there, the collecting task goes on", function()
      local p = pair()
      local check = witness()
      local errs = {}
      do
        setmetatable({}, { __gc = function()
          local ok, err = pcall(call, p)
          errs[#errs + 1] = ok and "it worked" or tostring(err)
        end })
      end
      collectgarbage()
      collectgarbage()
      assert.equal(1, #errs)
      -- a finalizer runs where it runs: in this task (cannot wait), or
      -- outside any task (must be called from a host task)
      assert.truthy(errs[1]:find(WAIT_ERR, 1, true) or errs[1]:find("host task", 1, true),
        errs[1])
      still_whole(p)
      check()
      unpair(p)
    end)
  end
end)

describe("a host call where Lua 5.4.4 can yield works", function()
  it("inside pcall and xpcall", function()
    local p = pair()
    assert(p.client:send("a\nb\n"))
    assert.same({ true, "a" }, { pcall(p.peer.read, p.peer, "l") })
    assert.same({ true, "b" }, { xpcall(p.peer.read, debug.traceback, p.peer, "l") })
    assert.same({ true, true }, { pcall(p.peer.send, p.peer, "c") })
    assert.equal("c", p.client:read(1))
    assert.is_true((pcall(host.sleep, 0.01)))
    unpair(p)
  end)

  it("in a __close on a normal exit from its block", function()
    local p = pair()
    local order = {}
    do
      local _ <close> = setmetatable({}, { __close = function()
        order[#order + 1] = "closing"
        host.sleep(0.01)
        assert(p.client:send("from __close\n"))
        order[#order + 1] = p.peer:read("l")
      end })
      order[#order + 1] = "body"
    end
    assert.same({ "body", "closing", "from __close" }, order)
    unpair(p)
  end)

  -- Lua 5.4.4 closes a block left by an error caught by a pcall of the
  -- task in finishpcallk, where the __close may yield.
  it("in a __close on an exit by an error that a pcall in the task catches", function()
    local p = pair()
    local order = {}
    local ok, err = pcall(function()
      local _ <close> = setmetatable({}, { __close = function(_, e)
        order[#order + 1] = "closing: " .. tostring(e):match("the block's own error")
        host.sleep(0.01)
        assert(p.client:send("in __close\n"))
        order[#order + 1] = p.peer:read("l")
      end })
      error("the block's own error")
    end)
    assert.is_false(ok)
    has("the block's own error", err)
    assert.same({ "closing: the block's own error", "in __close" }, order)
    unpair(p)
  end)

  it("in a __close when its block returns from a function", function()
    local p = pair()
    local function f()
      local _ <close> = setmetatable({}, { __close = function()
        host.sleep(0.01)
        assert(p.peer:send("bye\n"))
      end })
      return "returned"
    end
    assert.equal("returned", f())
    assert.equal("bye", p.client:read("l"))
    unpair(p)
  end)

  it("in metamethods the VM calls: __index, __call, __lt, __eq, __concat, __add", function()
    local p = pair()
    local mt = {}
    mt.__index = function(_, k) host.sleep(0) return k end
    mt.__call = function() host.sleep(0) return "called" end
    mt.__lt = function() host.sleep(0) return true end
    mt.__eq = function() host.sleep(0) return true end
    mt.__concat = function() assert(p.client:send("x")) return p.peer:read(1) end
    mt.__add = function() host.sleep(0) return 42 end
    local a, b = setmetatable({}, mt), setmetatable({}, mt)
    assert.equal("key", a.key)
    assert.equal("called", a())
    assert.is_true(a < b)
    assert.is_true(a == b)
    assert.equal("x", a .. "y")
    assert.equal(42, a + 1)
    unpair(p)
  end)

  it("in a coroutine.wrap generator that only yields values (no host call)", function()
    local gen = coroutine.wrap(function()
      for i = 1, 3 do coroutine.yield(i) end
    end)
    host.sleep(0)
    assert.same({ 1, 2, 3 }, { gen(), gen(), gen() })
    local co = coroutine.create(function()
      local _ <close> = setmetatable({}, { __close = function() end })
      coroutine.yield()
    end)
    assert.is_true((coroutine.resume(co)))
    assert.is_true((coroutine.close(co)))
  end)
end)

describe("a host call in a coroutine the script made", function()
  for _, c in ipairs(calls) do
    local what, call = c[1], c[2]
    it(what .. " inside coroutine.create raises there; resume returns the error", function()
      local p = pair()
      local check = witness()
      local co = coroutine.create(function() return call(p) end)
      local ok, err = coroutine.resume(co)
      assert.is_false(ok)
      has("must be called from a host task", err)
      has("a coroutine created by the script", err)
      assert.equal("dead", coroutine.status(co))
      still_whole(p)
      check()
      unpair(p)
    end)

    it(what .. " inside coroutine.wrap raises through the wrap", function()
      local p = pair()
      local check = witness()
      local ok, err = pcall(coroutine.wrap(function() return call(p) end))
      assert.is_false(ok)
      has("must be called from a host task", err)
      still_whole(p)
      check()
      unpair(p)
    end)
  end
end)

describe("the coroutine library on host tasks", function()
  it("coroutine.resume of a handler waiting in recv raises; the handler goes on", function()
    local co, got
    local l = h.serve(function(conn)
      co = coroutine.running()
      got = conn:read("l")
      conn:send("echo ", got, "\n")
    end)
    local check = witness()
    local c = assert(host.connect(l.address))
    assert(h.eventually(function() return co end))
    host.sleep(0.01)
    local ok, err = pcall(coroutine.resume, co)
    assert.is_false(ok)
    has("cannot resume a host task", err)
    ok, err = pcall(coroutine.close, co)
    assert.is_false(ok)
    has("cannot close a host task", err)
    assert.equal("suspended", coroutine.status(co))
    c:send("hello\n")
    assert.equal("echo hello", c:read("l"))
    check()
    c:close()
    l:close()
  end)

  it("coroutine.resume of a task from host.spawn waiting in host.sleep raises", function()
    local check = witness()
    local finished = false
    local co = host.spawn(function() host.sleep(0.05) finished = true end)
    host.sleep(0.01)
    local ok, err = pcall(coroutine.resume, co)
    assert.is_false(ok)
    has("cannot resume a host task", err)
    assert.is_false(finished)
    assert(h.eventually(function() return finished end))
    check()
  end)

  it("coroutine.close of a task waiting in host.wait raises; host.wakeup still works", function()
    local check = witness()
    local got
    local co = host.spawn(function() got = table.pack(host.wait()) end)
    host.sleep(0.01)
    local ok, err = pcall(coroutine.close, co)
    assert.is_false(ok)
    has("cannot close a host task", err)
    assert.is_true(host.wakeup(co, "woken", 7))
    assert(h.eventually(function() return got end))
    assert.same({ "woken", 7, n = 2 }, got)
    check()
  end)

  it("coroutine.resume of a task that has not started yet raises; it starts as usual", function()
    local ran = false
    local co = host.spawn(function() ran = true end)
    local ok, err = pcall(coroutine.resume, co)
    assert.is_false(ok)
    has("cannot resume a host task", err)
    assert(h.eventually(function() return ran end))
  end)

  it("coroutine.resume of the running task itself raises", function()
    local ok, err = pcall(coroutine.resume, coroutine.running())
    assert.is_false(ok)
    has("resume", err)
    host.sleep(0) -- and the task goes on waiting as usual
  end)

  it("coroutine.yield() straight out of a task raises; the task goes on", function()
    local ok, err = pcall(coroutine.yield, "lost")
    assert.is_false(ok)
    has("coroutine.yield() in a host task", err)
    host.sleep(0.01)
    local after = false
    host.spawn(function() coroutine.yield() after = true end)
    local errs = h.eventually(function()
      local e = task_errors()
      return #e > 0 and e
    end)
    assert.truthy(errs)
    assert.equal(1, #errs)
    has("coroutine.yield() in a host task", errs[1])
    assert.is_false(after)
  end)

  it("a host call in the __close of a task that ends by an error raises there", function()
    local check = witness()
    local result
    host.spawn(function()
      local _ <close> = setmetatable({}, { __close = function()
        result = table.pack(pcall(host.sleep, 0.01))
      end })
      error("the task's own error")
    end)
    assert(h.eventually(function() return result end))
    assert.is_false(result[1])
    local msg = tostring(result[2])
    assert(msg:find(WAIT_ERR, 1, true) or msg:find("host task", 1, true), msg)
    local errs = task_errors()
    assert.equal(1, #errs)
    has("the task's own error", errs[1])
    check()
  end)

  -- B6 (KNOWN.md, fixed): a task that ended by an error kept its error
  -- object on its stack, read "suspended", and resuming it called it.
  it("a task that ended by an error is dead: resuming it runs nothing", function()
    local called = false
    local err_obj = setmetatable({}, { __call = function() called = true end,
      __tostring = function() return "the task's error object" end })
    local co = host.spawn(function() error(err_obj) end)
    assert(h.eventually(function() return #task_errors() > 0 end))
    assert.equal("dead", coroutine.status(co))
    local ok, resumed, err = pcall(coroutine.resume, co)
    assert.is_false(called)
    -- raised (a host task), or refused as dead: either way nothing ran
    assert.truthy(not ok or (resumed == false and err == "cannot resume dead coroutine"),
      tostring(err))
  end)

  it("resuming a task that waits in an 8 MiB send to a slow reader raises; "
    .. "the peer gets exactly the 8 MiB", function()
    local p = pair()
    local check = witness()
    local big = {}
    for i = 1, 8 * 1024 do big[i] = string.format("%07d\n", i):rep(128) end
    big = table.concat(big)
    assert.equal(8 << 20, #big)
    local sent
    local sender = host.spawn(function() sent = table.pack(p.peer:send(big)) end)
    host.sleep(0.05) -- the send fills the buffers; the client reads nothing yet
    assert.is_nil(sent)
    for _ = 1, 3 do
      local ok, err = pcall(coroutine.resume, sender)
      assert.is_false(ok)
      has("cannot resume a host task", err)
      ok, err = pcall(coroutine.close, sender)
      assert.is_false(ok)
      has("cannot close a host task", err)
    end
    -- a slow reader: 64 KiB at a time with pauses, until the sender is done
    local got = {}
    local n = 0
    while n < #big do
      local chunk = assert(p.client:recv(65536))
      got[#got + 1] = chunk
      n = n + #chunk
      if #got % 16 == 0 then host.sleep(0.005) end
    end
    assert(h.eventually(function() return sent end))
    assert.same({ true, n = 1 }, sent)
    assert.equal(#big, n)
    assert.truthy(table.concat(got) == big)
    -- nothing more than the 8 MiB: the next bytes are ours
    assert(p.peer:send("end\n"))
    assert.equal("end", p.client:read("l"))
    check()
    unpair(p)
  end)
end)
