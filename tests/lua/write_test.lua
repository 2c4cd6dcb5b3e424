-- The API for fast handlers: write (queued), flush, buffered, and
-- read("until", delim [, max]).
local host = require "host"
local h = require "helper"

local client, peer, server

local function open_pair()
  server = h.accepting()
  client = assert(host.connect(server.listener.address))
  peer = server.accept()
end

local function close_pair()
  h.close(client)
  h.close(peer)
  server.listener:close()
end

describe("conn:write", function()
  before_each(open_pair)
  after_each(close_pair)

  it("queues without waiting; the bytes go out when the task waits", function()
    local order = {}
    host.spawn(function()
      order[#order + 1] = "other ran"
    end)
    assert.is_true(peer:write("a", "b", 1))
    assert.is_true(peer:write("c"))
    order[#order + 1] = "wrote" -- no other task ran in between: no yield
    assert.same({ "wrote" }, order)
    assert.equal("ab1c", client:read(4))
  end)

  it("works where a send could not wait (inside table.sort)", function()
    table.sort({ 3, 1, 2 }, function(a, b)
      assert(peer:write(tostring(a)))
      return a < b
    end)
    local got = client:recv()
    assert.truthy(#got > 0)
  end)

  it("keeps order with send and recv", function()
    peer:write("1")
    peer:send("2")
    peer:write("3")
    assert.equal("123", client:read(3))
  end)

  it("flush waits until what was written is written", function()
    peer:write(string.rep("x", 1000))
    assert.is_true(peer:flush())
    assert.is_true(peer:flush()) -- nothing queued: at once
    assert.equal(1000, #client:read(1000))
  end)

  it("past the high-water mark waits for a peer that does not read", function()
    local big = string.rep("w", 200 * 1024)
    local done = false
    host.spawn(function()
      for _ = 1, 40 do assert(peer:write(big)) end
      done = true
    end)
    host.sleep(0.1)
    assert.is_false(done) -- the buffers are full: write waits
    local got = client:read(#big * 40)
    assert.equal(#big * 40, #got)
    assert.truthy(h.eventually(function() return done end))
  end)

  it("what a handler wrote before it returned is delivered", function()
    local l = h.serve(function(conn)
      conn:write("hello ")
      conn:write(string.rep("z", 100000), "\n")
    end)
    local c = assert(host.connect(l.address))
    local all = c:read("a")
    assert.equal(6 + 100001, #all)
    c:close()
    l:close()
  end)

  it("what was written before close() is delivered", function()
    peer:write("last words")
    peer:close()
    assert.equal("last words", client:read("a"))
  end)

  it("shutdown sends what was written, then end of stream", function()
    peer:write("before the end")
    assert.is_true(peer:shutdown())
    assert.equal("before the end", client:read("a"))
  end)

  it("fails once the peer has reset", function()
    client:close("reset")
    local ok, err
    for _ = 1, 50 do
      ok, err = peer:write(string.rep("x", 65536))
      if ok then ok, err = peer:flush() end
      if not ok then break end
    end
    assert.is_nil(ok)
    assert.truthy(err == "reset" or err == "closed")
  end)
end)

describe("conn:buffered", function()
  before_each(open_pair)
  after_each(close_pair)

  it("says how much arrived and was not read", function()
    assert.equal(0, peer:buffered())
    client:send("0123456789")
    assert.equal("0123", peer:read(4))
    assert.equal(6, peer:buffered())
    assert.equal("456789", peer:read(6))
    assert.equal(0, peer:buffered())
  end)
end)

describe("conn:read('until')", function()
  before_each(open_pair)
  after_each(close_pair)

  it("returns what comes before the delimiter and consumes it", function()
    client:send("GET k\r\nSET k v\r\n")
    assert.equal("GET k", peer:read("until", "\r\n"))
    assert.equal("SET k v", peer:read("until", "\r\n"))
  end)

  it("finds a delimiter that arrives in pieces", function()
    host.spawn(function()
      for _, piece in ipairs { "ab", "c\r", "\n", "def", "--", "-", "END" } do
        client:send(piece)
        host.sleep(0.005)
      end
    end)
    assert.equal("abc", peer:read("until", "\r\n"))
    assert.equal("def", peer:read("until", "---END"))
  end)

  it("is too long past max, and a retry makes progress", function()
    client:send("0123456789\nok\n")
    assert.same({ nil, "too long" }, { peer:read("until", "\n", 5) })
    assert.equal("ok", peer:read("until", "\n", 5))
  end)

  it("returns closed with the partial data at end of stream", function()
    client:send("no end")
    client:shutdown()
    assert.same({ nil, "closed", "no end" }, { peer:read("until", "\n") })
  end)

  it("rejects an empty delimiter", function()
    checkerr("delimiter must be", peer.read, peer, "until", "")
  end)
end)
