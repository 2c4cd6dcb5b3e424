-- Tests for lines.lua, the line protocol example.
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local handler = dofile(here .. "lines.lua")

describe("examples/lines", function()
  local server, c
  before_each(function()
    server = assert(host.listen("127.0.0.1:0", handler))
    c = assert(host.connect(server.address))
  end)
  after_each(function()
    if tostring(c) ~= "host.conn (closed)" then c:close() end
    server:close()
  end)

  local function ask(line)
    assert(c:send(line, "\r\n"))
    return c:read("l")
  end

  it("answers PING, ECHO, UPPER and COUNT", function()
    assert.equal("PONG", ask("PING"))
    assert.equal("hello there", ask("ECHO hello there"))
    assert.equal("LOUD", ask("upper loud"))
    assert.equal("4", ask("COUNT"))
  end)

  it("takes commands pipelined in one send", function()
    assert(c:send("PING\nECHO a\nPING\n"))
    assert.equal("PONG", c:read("l"))
    assert.equal("a", c:read("l"))
    assert.equal("PONG", c:read("l"))
  end)

  it("rejects unknown commands and goes on", function()
    assert.equal("ERR unknown command", ask("FLY"))
    assert.equal("ERR unknown command", ask(""))
    assert.equal("PONG", ask("PING"))
  end)

  it("says BYE and closes on QUIT", function()
    assert.equal("BYE", ask("QUIT"))
    assert.same({ nil, "closed" }, { c:recv() })
  end)

  it("refuses a line over 1 KiB and closes", function()
    assert(c:send(string.rep("x", 2000), "\n"))
    assert.equal("ERR line too long", c:read("l"))
    assert.same({ nil, "closed" }, { c:recv() })
  end)
end)
