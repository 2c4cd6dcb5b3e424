-- Tests for tls_echo.lua: run with `host test scripts/examples`.  The
-- certificates come from tests/tools/make-certs.sh (HOST_TEST_CERTS).
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local script = here .. "tls_echo.lua"
local certs = os.getenv("HOST_TEST_CERTS")
local function file(name) return certs .. "/" .. name end

-- A free loopback address: the script listens itself.
local function free_address()
  local probe = assert(host.listen("127.0.0.1:0", function() end))
  local address = probe.address
  probe:close()
  return address
end

describe("examples/tls_echo", function()
  if not certs then
    pending("needs HOST_TEST_CERTS (tests/tools/make-certs.sh DIR)")
    return
  end

  it("echoes over TLS, verified against the test CA", function()
    local address = free_address()
    loadhandler(script, file("server.pem"), file("server.key"), address)
    local c = assert(host.connect(address, { tls = { ca = file("ca.pem"),
                                                     servername = "localhost" } }))
    assert.is_true(c.tls.verified)
    assert.equal("TLSv1.3", c.tls.version)
    assert(c:send("hello over TLS"))
    assert.equal("hello over TLS", c:read(14))
    local big = string.rep("0123456789abcdef", 8192) -- 128 KiB: many records
    host.spawn(function() c:send(big) end)
    assert.equal(big, c:read(#big))
    c:close()
  end)

  it("takes the files from the environment when no arguments are given", function()
    local address = free_address()
    local saved = os.getenv
    os.getenv = function(name) -- luacheck: ignore
      if name == "HOST_TLS_CERT" then return file("server.pem") end
      if name == "HOST_TLS_KEY" then return file("server.key") end
      if name == "HOST_TLS_LISTEN" then return address end
      return saved(name)
    end
    local ok, err = pcall(loadhandler, script)
    os.getenv = saved -- luacheck: ignore
    assert(ok, err)
    local c = assert(host.connect(address, { tls = { ca = file("ca.pem") } }))
    c:send("env")
    assert.equal("env", c:read(3))
    c:close()
  end)

  it("refuses to start without a certificate, and names a bad file", function()
    assert.error_matches(function() loadhandler(script) end, "usage")
    assert.error_matches(function()
      loadhandler(script, file("missing.pem"), file("server.key"), free_address())
    end, "missing%.pem")
  end)

  it("a plain-text client never reaches the handler", function()
    local address = free_address()
    loadhandler(script, file("server.pem"), file("server.key"), address)
    local c = assert(host.connect(address))
    c:send("not a ClientHello\r\n")
    local data = c:read("a")
    assert.truthy(data == nil or not data:find("ClientHello"))
    c:close()
  end)
end)
