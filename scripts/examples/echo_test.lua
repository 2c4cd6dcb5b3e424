-- Tests for echo.lua: run with `host test scripts/examples`.
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local echo = dofile(here .. "echo.lua")

describe("examples/echo", function()
  local server
  before_each(function() server = assert(host.listen("127.0.0.1:0", echo)) end)
  after_each(function() server:close() end)

  it("sends every byte back", function()
    local c = assert(host.connect(server.address))
    assert(c:send("hello, ", "world"))
    assert.equal("hello, world", c:read(12))
    c:close()
  end)

  it("echoes a large message intact", function()
    local c = assert(host.connect(server.address))
    local big = {}
    for i = 1, 100000 do big[i] = string.char(i % 251) end
    big = table.concat(big)
    host.spawn(function() c:send(big) end)
    assert.equal(big, c:read(#big))
    c:close()
  end)

  it("serves many clients at once", function()
    local me, done = coroutine.running(), 0
    for i = 1, 20 do
      host.spawn(function()
        local c = assert(host.connect(server.address))
        for j = 1, 10 do
          local msg = ("client %d message %d\n"):format(i, j)
          c:send(msg)
          assert(c:read("L") == msg)
        end
        c:close()
        done = done + 1
        if done == 20 then host.wakeup(me) end
      end)
    end
    if done < 20 then host.wait(5) end
    assert.equal(20, done)
  end)

  it("closes when the client half-closes, after sending back what it had", function()
    local c = assert(host.connect(server.address))
    c:send("last words")
    c:shutdown()
    assert.equal("last words", c:read("a"))
    c:close()
  end)
end)
