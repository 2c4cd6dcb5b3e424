-- Hardening: what a careless script or a hostile peer used to break.
-- Each case pins one symptom of the hardening issue (numbers as there);
-- the script-fault suite (script_faults_test.lua) has the rest of 1 and 2.
local host = require "host"
local h = require "helper"

local function pair(options)
  local server = h.accepting()
  local client = assert(host.connect(server.listener.address))
  local peer = server.accept()
  if options and options.maxline then peer:setoption("maxline", options.maxline) end
  return client, peer, server.listener
end

describe("1. a host call where Lua cannot yield", function()
  it("raises a clear error and leaves the task and its connection whole", function()
    local client, peer, l = pair()
    client:send("x")
    local ok, err = pcall(table.sort, { 3, 2, 1 }, function(a, b)
      peer:recv()
      return a < b
    end)
    assert.is_false(ok)
    assert.matches("conn:recv cannot wait inside a C function", err)
    -- The connection was not touched: the byte is still there.
    assert.equal("x", peer:recv())
    local ok2, err2 = pcall(string.gsub, "{{a}}", "{{(%w+)}}", function()
      host.sleep(0.01)
    end)
    assert.is_false(ok2)
    assert.matches("host.sleep cannot wait", err2)
    assert.is_true(peer:send("still fine"))
    assert.equal("still fine", client:read(10))
    client:close(); peer:close(); l:close()
  end)
end)

describe("2. resuming a host task from the script", function()
  it("is refused while the task waits in a large send; the peer gets exactly what was sent", function()
    local client, peer, l = pair()
    local big = string.rep("0123456789abcdef", 512 * 1024) -- 8 MiB
    local sender, sent
    sender = host.spawn(function() sent = { peer:send(big) } end)
    host.sleep(0.05) -- the send is in flight, the peer has not read yet
    local ok, err = pcall(coroutine.resume, sender)
    assert.is_false(ok)
    assert.matches("cannot resume a host task", err)
    ok, err = pcall(coroutine.close, sender)
    assert.is_false(ok)
    assert.matches("cannot close a host task", err)
    local got = client:read(#big)
    assert.equal(#big, #got)
    assert.truthy(got == big)
    assert.truthy(h.eventually(function() return sent end))
    assert.same({ true }, sent)
    client:close(); peer:close(); l:close()
  end)
end)

describe("3. a timeout", function()
  it("after recv timed out, a send with no timeout goes out once and at once", function()
    local client, peer, l = pair()
    peer:settimeout(0.1)
    assert.same({ nil, "timeout" }, { peer:recv() })
    peer:settimeout(nil)
    assert.is_true(peer:send("hello"))
    assert.equal("hello", client:read(5))
    client:send("more")
    assert.equal("more", peer:read(4))
    client:settimeout(0.2)
    assert.same({ nil, "timeout" }, { client:recv() }) -- nothing duplicated
    client:close(); peer:close(); l:close()
  end)

  it("after read(5) timed out with 2 bytes buffered, the bytes stay and sends work", function()
    local client, peer, l = pair()
    client:send("ab")
    peer:settimeout(0.1)
    assert.same({ nil, "timeout" }, { peer:read(5) })
    peer:settimeout(nil)
    assert.is_true(peer:send("reply"))
    assert.equal("reply", client:read(5))
    client:send("cde")
    assert.equal("abcde", peer:read(5))
    client:close(); peer:close(); l:close()
  end)

  it("inside a lines() loop, replies after a timeout arrive", function()
    local client, peer, l = pair()
    local replies = 0
    host.spawn(function()
      peer:settimeout(0.1)
      for line in peer:lines() do
        peer:settimeout(nil)
        assert(peer:send("re: ", line, "\n"))
        replies = replies + 1
        peer:settimeout(0.1)
      end
    end)
    host.sleep(0.15) -- the first read times out and ends the loop
    assert.equal("timeout", peer.lasterror)
    assert.equal(0, replies)
    host.spawn(function()
      for line in peer:lines() do
        assert(peer:send("re: ", line, "\n"))
        replies = replies + 1
      end
    end)
    client:send("one\ntwo\n")
    assert.equal("re: one", client:read("l"))
    assert.equal("re: two", client:read("l"))
    -- The bytes can arrive before the send's own completion does.
    assert.truthy(h.eventually(function() return replies == 2 end))
    client:close(); peer:close(); l:close()
  end)

  it("a send deadline does not outlive its send", function()
    local client, peer, l = pair()
    peer:settimeout(0.05)
    assert.is_true(peer:send("a"))
    host.sleep(0.1) -- past that deadline
    assert.is_true(peer:send("b"))
    assert.equal("ab", client:read(2))
    client:close(); peer:close(); l:close()
  end)
end)

describe("4. closing with unread input", function()
  it("does not destroy a reply the peer has not read yet", function()
    local size = 1024 * 1024
    local l = h.serve(function(conn)
      conn:read("l")
      assert(conn:send(string.rep("r", size)))
    end) -- returns at once: the client's pipelined bytes are unread
    for _ = 1, 3 do
      local c = assert(host.connect(l.address))
      assert(c:send("first line\n", string.rep("p", 100 * 1000)))
      local got, err = c:read("a")
      assert.is_nil(err)
      assert.equal(size, #got)
      c:close()
    end
    l:close()
  end)

  it("close('reset') resets the peer", function()
    local client, peer, l = pair()
    peer:close("reset")
    local ok, err = client:recv()
    assert.is_nil(ok)
    assert.equal("reset", err)
    client:close(); l:close()
  end)
end)

describe("5. a line that is too long", function()
  it("is dropped up to its end of line, so a retry reads the next line", function()
    local client, peer, l = pair { maxline = 4 }
    client:send("toolongline\nok\n")
    assert.same({ nil, "too long" }, { peer:read("l") })
    assert.equal("ok", peer:read("l"))
    client:close(); peer:close(); l:close()
  end)

  it("is dropped even when its end arrives later", function()
    local client, peer, l = pair { maxline = 4 }
    client:send("toolong")
    assert.same({ nil, "too long" }, { peer:read("l") })
    host.spawn(function()
      host.sleep(0.02)
      client:send("er still\nnext\n")
    end)
    assert.equal("next", peer:read("l"))
    client:close(); peer:close(); l:close()
  end)

  it("a line of exactly maxline bytes with CRLF is fine", function()
    local client, peer, l = pair { maxline = 4 }
    client:send("abcd\r")
    host.spawn(function() host.sleep(0.02) client:send("\n") end)
    assert.equal("abcd", peer:read("l"))
    client:close(); peer:close(); l:close()
  end)
end)

describe("6. listening twice", function()
  it("on one address in any spelling gives address already in use", function()
    local l = h.serve(h.echo)
    local port = l.address:match(":(%d+)$")
    for _, addr in ipairs { l.address, "localhost:" .. port,
                            "127.0.0.1:" .. string.rep("0", 100) .. port } do
      local again, err = host.listen(addr, h.echo)
      assert.is_nil(again)
      assert.equal("address already in use", err)
    end
    l:close()
  end)
end)

describe("7. host.stop", function()
  it("refuses NaN", function()
    checkerr("not a number", host.stop, 0 / 0)
  end)
end)

describe("9. a peer that resets inside a lines() loop", function()
  it("ends the loop quietly, with the reason in conn.lasterror", function()
    local client, peer, l = pair()
    local lines, ended = {}, false
    host.spawn(function()
      for line in peer:lines() do lines[#lines + 1] = line end
      ended = true
    end)
    client:send("a\nb\n")
    host.sleep(0.02)
    client:close("reset")
    assert.truthy(h.eventually(function() return ended end))
    assert.same({ "a", "b" }, lines)
    assert.equal("reset", peer.lasterror)
    assert.equal(0, #task_errors())
    peer:close(); l:close()
  end)
end)

describe("found by the conformance generator", function()
  it("B3: a handler that closes its own connection and goes on leaves later connections alone", function()
    local n = 0
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      n = n + 1
      if n == 1 then
        conn:close()      -- its own connection, closed early...
        host.sleep(0.2)   -- ...and the handler goes on, then returns
      else
        for line in conn:lines() do conn:send(line, "\n") end
      end
    end))
    local c1 = assert(host.connect(l.address))
    host.sleep(0.05)
    local c2 = assert(host.connect(l.address)) -- may take c1's freed conn
    host.sleep(0.3)                            -- the first handler has returned
    assert.is_true(c2:send("still here\n"))
    assert.equal("still here", c2:read("l"))
    c1:close(); c2:close(); l:close()
  end)

  it("B2: after the peer's reset, reads say reset, also when a send saw it first", function()
    local got = {}
    local done = false
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      conn:read("l")
      got.send = { conn:send(string.rep("x", 8 << 20)) }
      got.recv = { conn:recv() }
      got.read = { conn:read("a") }
      done = true
    end))
    local c = assert(host.connect(l.address))
    c:send("go\n")
    host.sleep(0.1)
    c:close("reset")
    for _ = 1, 100 do
      if done then break end
      host.sleep(0.02)
    end
    assert.same({ nil, "reset" }, got.send)
    assert.same({ nil, "reset" }, got.recv)
    assert.same({ nil, "reset" }, got.read)
    l:close()
  end)
end)
