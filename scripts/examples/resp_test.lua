-- resp.lua, driven over RESP by a client written here, pipelined too.
local host = require "host"

local handler = dofile("scripts/examples/resp.lua")

local function command(...)
  local parts = { "*" .. select("#", ...) .. "\r\n" }
  for i = 1, select("#", ...) do
    local a = tostring((select(i, ...)))
    parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(parts)
end

local function reply(c)
  local line = assert(c:read("until", "\r\n"))
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "$" then
    local n = tonumber(rest)
    if n < 0 then return nil end
    return c:read(n + 2):sub(1, n)
  elseif kind == ":" then
    return tonumber(rest)
  elseif kind == "*" then
    local t = {}
    for i = 1, tonumber(rest) do t[i] = reply(c) end
    return t
  end
  return line -- +OK, -ERR ...
end

describe("examples/resp", function()
  local l, c
  before_each(function()
    l = assert(host.listen("127.0.0.1:0", handler))
    c = assert(host.connect(l.address))
  end)
  after_each(function()
    c:close()
    l:close()
  end)

  it("answers PING, SET, GET, DEL, EXISTS, INCR", function()
    c:send(command("PING"))
    assert.equal("+PONG", reply(c))
    c:send(command("SET", "k", "v\0binary\r\n"))
    assert.equal("+OK", reply(c))
    c:send(command("GET", "k"))
    assert.equal("v\0binary\r\n", reply(c))
    c:send(command("GET", "missing"))
    assert.is_nil(reply(c))
    c:send(command("INCR", "n"), command("INCR", "n"))
    assert.equal(1, reply(c))
    assert.equal(2, reply(c))
    c:send(command("EXISTS", "k", "n", "x"))
    assert.equal(2, reply(c))
    c:send(command("DEL", "k", "x"))
    assert.equal(1, reply(c))
  end)

  it("answers 1000 pipelined commands in order", function()
    local batch = {}
    for i = 1, 1000 do batch[#batch + 1] = command("SET", "key" .. i, i) end
    for i = 1, 1000 do batch[#batch + 1] = command("GET", "key" .. i) end
    c:send(table.concat(batch))
    for _ = 1, 1000 do assert.equal("+OK", reply(c)) end
    for i = 1, 1000 do assert.equal(tostring(i), reply(c)) end
  end)

  it("takes inline commands and says what it does not know", function()
    c:send("PING\r\n")
    assert.equal("+PONG", reply(c))
    c:send(command("NOPE"))
    assert.matches("^%-ERR unknown command", reply(c))
  end)

  it("ends a connection that breaks the protocol", function()
    c:send("*1\r\n#3\r\nabc\r\n")
    assert.matches("protocol error", reply(c))
    assert.same({ nil, "closed" }, { c:recv() })
  end)

  it("takes a command that arrives a byte at a time", function()
    local cmd = command("SET", "slow", "value")
    for i = 1, #cmd do
      c:send(cmd:sub(i, i))
      host.sleep(0.001)
    end
    assert.equal("+OK", reply(c))
    c:send(command("GET", "slow"))
    assert.equal("value", reply(c))
  end)

  it("answers an array that is not of strings with a protocol error", function()
    c:send(":12\r\n")
    assert.matches("protocol error", reply(c))
  end)
end)
