-- The PROXY protocol on a listener (proxy_protocol = true): the header
-- is read before the handler, conn.peer / conn.address / conn.proxy say
-- what it said, and a missing, malformed or late header closes.
local host = require "host"
local h = require "helper"

local SIG = "\r\n\r\n\0\r\nQUIT\n"

local function be16(n) return string.char(n >> 8 & 255, n & 255) end
local function tlv(t, v) return string.char(t) .. be16(#v) .. v end

-- A v2 header: command 1 (PROXY) or 0 (LOCAL), TCP over IPv4.
local function v2(command, src, sport, dst, dport, tlvs)
  local function ip(s)
    local a, b, c, d = s:match("(%d+)%.(%d+)%.(%d+)%.(%d+)")
    return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
  end
  local body = ip(src) .. ip(dst) .. be16(sport) .. be16(dport) .. (tlvs or "")
  return SIG .. string.char(0x20 | command, 0x11) .. be16(#body) .. body
end

-- A server whose handler reports what it saw, then echoes one line.
local function serve(options)
  local seen = {}
  local opts = { proxy_protocol = true }
  for k, v in pairs(options or {}) do opts[k] = v end
  local l = h.serve(function(conn)
    seen.peer, seen.address, seen.proxy = conn.peer, conn.address, conn.proxy
    seen.ran = true
    local line = conn:read("l")
    if line then conn:send(line .. "\n") end
  end, opts)
  return l, seen
end

describe("proxy_protocol = true", function()
  it("v1: the handler sees the original addresses, not the header", function()
    local l, seen = serve()
    local c = assert(host.connect(l.address))
    c:send("PROXY TCP4 192.0.2.7 198.51.100.9 40000 443\r\nhello\n")
    assert.equal("hello", c:read("l"))
    assert.equal("192.0.2.7:40000", seen.peer)
    assert.equal("198.51.100.9:443", seen.address)
    assert.equal(1, seen.proxy.version)
    assert.equal("proxy", seen.proxy.command)
    assert.equal("192.0.2.7:40000", seen.proxy.source)
    c:close()
    l:close()
  end)

  it("v1 over IPv6", function()
    local l, seen = serve()
    local c = assert(host.connect(l.address))
    c:send("PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\nx\n")
    assert.equal("x", c:read("l"))
    assert.equal("[2001:db8::1]:1234", seen.peer)
    assert.equal("[2001:db8::2]:80", seen.address)
    c:close()
    l:close()
  end)

  it("v2 with TLVs: ALPN, authority, unique id and the SSL fields", function()
    local l, seen = serve()
    local ssl = string.char(0x01) .. "\0\0\0\0" ..
                tlv(0x21, "TLSv1.3") .. tlv(0x22, "alice") ..
                tlv(0x23, "TLS_AES_128_GCM_SHA256")
    local tlvs = tlv(0x01, "h2") .. tlv(0x02, "example.com") ..
                 tlv(0x05, "id-42") .. tlv(0x20, ssl) .. tlv(0xE0, "custom")
    local c = assert(host.connect(l.address))
    c:send(v2(1, "203.0.113.5", 5555, "203.0.113.80", 8443, tlvs) .. "ping\n")
    assert.equal("ping", c:read("l"))
    assert.equal("203.0.113.5:5555", seen.peer)
    assert.equal("203.0.113.80:8443", seen.address)
    local p = seen.proxy
    assert.equal(2, p.version)
    assert.equal("h2", p.alpn)
    assert.equal("example.com", p.authority)
    assert.equal("id-42", p.unique_id)
    assert.equal("TLSv1.3", p.ssl.version)
    assert.equal("alice", p.ssl.cn)
    assert.equal("TLS_AES_128_GCM_SHA256", p.ssl.cipher)
    assert.is_true(p.ssl.tls)
    local custom
    for _, t in ipairs(p.tlvs) do
      if t.type == 0xE0 then custom = t.value end
    end
    assert.equal("custom", custom)
    c:close()
    l:close()
  end)

  it("v2 LOCAL (a balancer's health check) keeps the real addresses", function()
    local l, seen = serve()
    local c = assert(host.connect(l.address))
    c:send(v2(0, "0.0.0.0", 0, "0.0.0.0", 0) .. "hc\n")
    assert.equal("hc", c:read("l"))
    assert.matches("^127%.0%.0%.1:%d+$", seen.peer)
    assert.equal(l.address, seen.address)
    assert.equal("local", seen.proxy.command)
    c:close()
    l:close()
  end)

  it("a header that arrives a byte at a time", function()
    local l, seen = serve()
    local c = assert(host.connect(l.address))
    local hdr = v2(1, "10.1.2.3", 1000, "10.3.2.1", 2000, tlv(0x02, "a.b"))
    for i = 1, #hdr do
      c:send(hdr:sub(i, i))
      if i % 7 == 0 then host.sleep(0.001) end
    end
    c:send("slow\n")
    assert.equal("slow", c:read("l"))
    assert.equal("10.1.2.3:1000", seen.peer)
    c:close()
    l:close()
  end)

  it("a malformed header closes the connection; the handler never runs", function()
    local l, seen = serve()
    for _, bad in ipairs({ "GET / HTTP/1.1\r\n\r\n",
                           "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n",
                           "PROXY TCP4 1.2.3.4 1.2.3.4 99999 2\r\n",
                           SIG .. "\x31\x11\0\12" .. ("\0"):rep(12),
                           ("PROXY "):rep(30) }) do
      local c = assert(host.connect(l.address))
      c:send(bad)
      local data, err = c:read("a")
      assert.equal("", data or "")
      assert.is_nil(err)
      c:close()
    end
    assert.is_nil(seen.ran)
    l:close()
  end)

  it("a peer that closes before the header is complete", function()
    local l, seen = serve()
    local c = assert(host.connect(l.address))
    c:send("PROXY TCP4 1.2.3.4")
    c:shutdown()
    assert.equal("", c:read("a"))
    c:close()
    assert.is_nil(seen.ran)
    l:close()
  end)

  it("a silent peer is cut at proxy_timeout", function()
    local l, seen = serve({ proxy_timeout = 0.2 })
    local c = assert(host.connect(l.address))
    local t0 = host.now()
    c:send("PROXY TCP4 1.2.3.4 ") -- and then nothing
    assert.equal("", c:read("a"))
    local took = host.now() - t0
    assert.truthy(took > 0.15 and took < 2, "took " .. took)
    assert.is_nil(seen.ran)
    c:close()
    l:close()
  end)

  it("the deadline is for the whole header, not per byte", function()
    local l, seen = serve({ proxy_timeout = 0.3 })
    local c = assert(host.connect(l.address))
    local t0 = host.now()
    local hdr = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
    for i = 1, #hdr do
      if not c:send(hdr:sub(i, i)) then break end
      host.sleep(0.05)
    end
    assert.equal("", c:read("a") or "")
    assert.truthy(host.now() - t0 < 2.5)
    assert.is_nil(seen.ran)
    c:close()
    l:close()
  end)

  it("keeps the listener's own timeout for the handler", function()
    local got
    local l = h.serve(function(conn)
      local _, err = conn:read("l")
      got = err
    end, { proxy_protocol = true, timeout = 0.1, proxy_timeout = 5 })
    local c = assert(host.connect(l.address))
    c:send("PROXY UNKNOWN\r\n")
    assert.truthy(h.eventually(function() return got end))
    assert.equal("timeout", got)
    c:close()
    l:close()
  end)

  it("without the option a header is just bytes, and conn.proxy is nil", function()
    local seen = {}
    local l = h.serve(function(conn)
      seen.proxy = conn.proxy
      seen.line = conn:read("l")
    end)
    local c = assert(host.connect(l.address))
    c:send("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
    assert.truthy(h.eventually(function() return seen.line end))
    assert.equal("PROXY TCP4 1.2.3.4 5.6.7.8 1 2", seen.line)
    assert.is_nil(seen.proxy)
    c:close()
    l:close()
  end)
end)

describe("proxy_protocol with TLS", function()
  local certs = os.getenv("HOST_TEST_CERTS")
  it("the header comes first, in clear, then the handshake", function()
    if not certs then return pending("HOST_TEST_CERTS not set") end
    local seen = {}
    local l = h.serve(function(conn)
      seen.peer, seen.tls = conn.peer, conn.tls
      local line = conn:read("l")
      conn:send(line .. "\n")
    end, { proxy_protocol = true,
           tls = { cert = certs .. "/server.pem", key = certs .. "/server.key" } })
    local c = assert(host.connect(l.address))
    c:send("PROXY TCP4 192.0.2.1 192.0.2.2 7 8\r\n")
    assert(c:starttls({ ca = certs .. "/ca.pem", servername = "localhost" }))
    c:send("secret\n")
    assert.equal("secret", c:read("l"))
    assert.equal("192.0.2.1:7", seen.peer)
    assert.truthy(seen.tls and seen.tls.version)
    c:close()
    l:close()
  end)
end)
