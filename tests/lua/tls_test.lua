-- TLS: listeners, host.connect with tls, starttls, conn.tls, failures.
-- Certificates come from tests/tools/make-certs.sh: in HOST_TEST_CERTS
-- (tests/run.sh and tests/windows.sh make them), else made here.
local host = require "host"
local h = require "helper"

local certs = os.getenv("HOST_TEST_CERTS")
if not certs then
  certs = os.tmpname() .. ".certs"
  assert(os.execute("bash tests/tools/make-certs.sh " .. certs .. " >/dev/null 2>&1"),
         "cannot make certificates (set HOST_TEST_CERTS)")
end
local function file(name) return certs .. "/" .. name end

local server_tls = { cert = file("server.pem"), key = file("server.key") }
local client_tls = { ca = file("ca.pem") }

local function tls_echo(options)
  local opts = { tls = options or server_tls }
  return assert(host.listen("127.0.0.1:0", h.echo, opts))
end

describe("a TLS listener and host.connect with tls", function()
  it("echo over TLS, with what the handshake agreed", function()
    local l = tls_echo()
    local c = assert(host.connect(l.address, { tls = client_tls }))
    assert.is_true(c:send("hello over tls"))
    assert.equal("hello over tls", c:read(14))
    local info = c.tls
    assert.truthy(info)
    assert.truthy(info.version == "TLSv1.3")
    assert.truthy(#info.cipher > 0)
    assert.is_true(info.verified)
    assert.matches("CN=localhost", info.peer)
    c:close()
    l:close()
  end)

  it("the handler sees conn.tls, and a plain connection has none", function()
    local seen
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      seen = conn.tls
      conn:send("x")
    end, { tls = server_tls }))
    local c = assert(host.connect(l.address, { tls = client_tls }))
    assert.equal("x", c:read(1))
    assert.truthy(seen and seen.version)
    c:close()
    l:close()
    local p = h.serve(h.echo)
    local pc = assert(host.connect(p.address))
    assert.is_nil(pc.tls)
    pc:close()
    p:close()
  end)

  it("moves 4 MiB both ways, byte-exact, in pieces", function()
    local l = tls_echo()
    local c = assert(host.connect(l.address, { tls = client_tls }))
    local piece = string.rep("0123456789abcdef", 4096) -- 64 KiB
    local got = {}
    host.spawn(function()
      local n = 0
      while n < #piece * 64 do
        local d = assert(c:recv())
        got[#got + 1] = d
        n = n + #d
      end
    end)
    for _ = 1, 64 do assert(c:send(piece)) end
    assert.truthy(h.eventually(function()
      local n = 0
      for _, d in ipairs(got) do n = n + #d end
      return n == #piece * 64
    end, 10))
    assert.truthy(table.concat(got) == string.rep(piece, 64))
    c:close()
    l:close()
  end)

  it("writes and lines work over TLS", function()
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      for line in conn:lines() do conn:write(line:upper(), "\n") end
    end, { tls = server_tls }))
    local c = assert(host.connect(l.address, { tls = client_tls }))
    c:write("one\ntwo\n")
    assert.equal("ONE", c:read("l"))
    assert.equal("TWO", c:read("l"))
    c:close()
    l:close()
  end)


  -- Large writes go into the engine at once, small ones are queued: the
  -- mix must arrive in order, past the engine's own output limit (64 KiB)
  -- and while earlier records are still being sent.
  it("small and large writes keep their order", function()
    local parts, want = {}, {}
    for i = 1, 40 do
      local size = ({ 7, 5000, 100, 16384, 3, 70000, 4096, 4095 })[i % 8 + 1]
      parts[i] = string.rep(string.char(64 + i % 26), size - 1) .. "|"
      want[#want + 1] = parts[i]
    end
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      assert(conn:read(2))
      for _, p in ipairs(parts) do assert(conn:write(p)) end
      assert(conn:flush())
    end, { tls = server_tls }))
    local c = assert(host.connect(l.address, { tls = client_tls }))
    assert(c:send("go"))
    local all = table.concat(want)
    local got = assert(c:read(#all))
    assert.truthy(got == all, "the bytes differ")
    assert.same({ nil, "closed" }, { c:read(1) })
    c:close()
    l:close()
  end)
  it("verification fails: unknown CA, wrong name, expired", function()
    local l = tls_echo()
    local c, err, detail = host.connect(l.address, { tls = true })
    assert.is_nil(c)
    assert.equal("tls", err)
    assert.matches("certificate verify failed", detail)
    c, err, detail = host.connect(l.address,
      { tls = { ca = file("ca.pem"), servername = "wrong.example" } })
    assert.is_nil(c)
    assert.equal("tls", err)
    assert.matches("hostname mismatch", detail)
    l:close()
    local e = tls_echo { cert = file("expired.pem"), key = file("expired.key") }
    c, err, detail = host.connect(e.address, { tls = client_tls })
    assert.is_nil(c)
    assert.equal("tls", err)
    assert.matches("expired", detail)
    e:close()
  end)

  it("verify = false connects to anyone", function()
    local l = tls_echo()
    local c = assert(host.connect(l.address, { tls = { verify = false } }))
    assert.is_false(c.tls.verified)
    c:send("ok")
    assert.equal("ok", c:read(2))
    c:close()
    l:close()
  end)

  it("ALPN and SNI are chosen by the server and seen by the client", function()
    local l = tls_echo {
      cert = file("server.pem"), key = file("server.key"),
      alpn = { "h2", "http/1.1" },
      servers = { ["a.example"] = { cert = file("a.pem"), key = file("a.key") } },
    }
    local c = assert(host.connect(l.address, { tls = {
      ca = file("ca.pem"), servername = "a.example", alpn = { "http/1.1" } } }))
    assert.equal("http/1.1", c.tls.alpn)
    assert.matches("CN=a.example", c.tls.peer)
    c:close()
    l:close()
  end)

  it("a client certificate is required with verify_peer", function()
    local l = tls_echo {
      cert = file("server.pem"), key = file("server.key"),
      ca = file("ca.pem"), verify_peer = true,
    }
    local c = assert(host.connect(l.address, { tls = {
      ca = file("ca.pem"), cert = file("client.pem"), key = file("client.key") } }))
    c:send("mtls")
    assert.equal("mtls", c:read(4))
    c:close()
    -- Without one: TLS 1.3 tells the client at its first read.
    local n = assert(host.connect(l.address, { tls = client_tls }))
    n:send("x")
    local ok, err = n:read(1)
    assert.is_nil(ok)
    assert.truthy(err == "tls" or err == "closed" or err == "reset")
    n:close()
    l:close()
  end)

  it("plain text to a TLS port never reaches the handler", function()
    local reached = false
    local l = assert(host.listen("127.0.0.1:0", function() reached = true end,
                                 { tls = server_tls }))
    local c = assert(host.connect(l.address))
    c:send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    local data = c:read("a")
    assert.truthy(data == nil or not data:find("HTTP"))
    assert.is_false(reached)
    c:close()
    l:close()
  end)

  it("a peer that stalls in the handshake is cut at the deadline", function()
    local l = assert(host.listen("127.0.0.1:0", h.echo,
                                 { tls = server_tls, handshake = 0.2 }))
    local c = assert(host.connect(l.address)) -- plain: sends no ClientHello
    local t0 = host.now()
    assert.same({ nil, "closed" }, { c:recv() })
    assert.truthy(host.now() - t0 < 2)
    c:close()
    l:close()
  end)

  it("a bad certificate file raises with the reason", function()
    checkerr("cannot open", host.listen, "127.0.0.1:0", h.echo,
             { tls = { cert = file("missing.pem"), key = file("server.key") } })
  end)
end)

describe("conn:starttls", function()
  it("a client must name the server it verifies", function()
    local l = h.serve(function(conn) conn:read("l") end)
    local c = assert(host.connect(l.address))
    checkerr("servername", c.starttls, c, { ca = file("ca.pem") })
    checkerr("servername", c.starttls, c)
    c:close()
    l:close()
  end)

  it("verify = false needs no name", function()
    local l = h.serve(function(conn)
      assert(conn:starttls(server_tls))
      conn:send(conn:read("l"), "\n")
    end)
    local c = assert(host.connect(l.address))
    assert(c:starttls { verify = false })
    assert.is_false(c.tls.verified)
    c:send("unverified\n")
    assert.equal("unverified", c:read("l"))
    c:close()
    l:close()
  end)

  it("upgrades a plain connection on both sides", function()
    local l = h.serve(function(conn)
      assert.equal("STARTTLS", conn:read("l"))
      conn:send("GO\n")
      assert(conn:starttls(server_tls))
      local line = conn:read("l")
      conn:send("secret: ", line, "\n")
    end)
    local c = assert(host.connect(l.address))
    c:send("STARTTLS\n")
    assert.equal("GO", c:read("l"))
    assert(c:starttls { ca = file("ca.pem"), servername = "localhost" })
    assert.truthy(c.tls)
    c:send("hidden\n")
    assert.equal("secret: hidden", c:read("l"))
    c:close()
    l:close()
  end)
end)

describe("host.resolve", function()
  it("resolves localhost and a literal address at once", function()
    local addrs = assert(host.resolve("localhost"))
    assert.truthy(#addrs >= 1)
    assert.same({ "127.0.0.1" }, assert(host.resolve("127.0.0.1")))
  end)

  it("says not found for a name that does not exist", function()
    local addrs, err = host.resolve("no-such-host.invalid", 5)
    assert.is_nil(addrs)
    assert.truthy(err == "not found" or err == "temporary failure")
  end)

  it("host.connect takes a name", function()
    local l = h.serve(h.echo)
    local port = l.address:match(":(%d+)$")
    local c = assert(host.connect("localhost:" .. port))
    c:send("by name")
    assert.equal("by name", c:read(7))
    c:close()
    l:close()
  end)
end)
