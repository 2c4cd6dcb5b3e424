-- Tests for proxy.lua: an upstream echo server behind the proxy.
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

local function load_proxy(upstream)
  host.arg[1] = upstream
  local handler = dofile(here .. "proxy.lua")
  host.arg[1] = nil
  return handler
end

describe("examples/proxy", function()
  local upstream, proxy
  before_each(function()
    upstream = assert(host.listen("127.0.0.1:0", dofile(here .. "echo.lua")))
    proxy = assert(host.listen("127.0.0.1:0", load_proxy(upstream.address)))
  end)
  after_each(function()
    proxy:close()
    upstream:close()
  end)

  it("relays both ways", function()
    local c = assert(host.connect(proxy.address))
    c:send("through the proxy\n")
    assert.equal("through the proxy", c:read("l"))
    c:close()
  end)

  it("passes a half-close on and delivers the rest", function()
    local c = assert(host.connect(proxy.address))
    c:send("abc")
    c:shutdown()
    assert.equal("abc", c:read("a"))
    c:close()
  end)

  it("relays 1 MB intact", function()
    local c = assert(host.connect(proxy.address))
    local big = string.rep("proxy!", 174763):sub(1, 1 << 20)
    host.spawn(function() c:send(big); c:shutdown() end)
    local got = c:read("a")
    assert.equal(#big, #got)
    assert.truthy(got == big)
    c:close()
  end)

  it("closes the client when the upstream is down", function()
    local dead = load_proxy("127.0.0.1:1")
    local l = assert(host.listen("127.0.0.1:0", dead))
    local c = assert(host.connect(l.address))
    assert.same({ nil, "closed" }, { c:recv() })
    c:close()
    l:close()
  end)

  it("keeps proxied connections apart", function()
    local a = assert(host.connect(proxy.address))
    local b = assert(host.connect(proxy.address))
    a:send("A\n")
    b:send("B\n")
    assert.equal("B", b:read("l"))
    assert.equal("A", a:read("l"))
    a:close()
    b:close()
  end)
end)
