-- host.http, the client: http.request, the keep-alive pool, the
-- streaming variant, chunked uploads, failures, https; and the server
-- driven through it (the `host test` helpers: http.listen, srv:request).
local host = require "host"
local http = require "host.http"
local H = require "http_helper"

local certs = os.getenv("HOST_TEST_CERTS")
if not certs then
  certs = os.tmpname() .. ".certs"
  assert(os.execute("bash tests/tools/make-certs.sh " .. certs .. " >/dev/null 2>&1"),
         "cannot make certificates (set HOST_TEST_CERTS)")
end

local function echo(req, res)
  local body = assert(req:body())
  res:send(200, body, { ["X-Method"] = req.method, ["X-Path"] = req.target,
                        ["X-Peer"] = req.peer })
end

describe("http.request", function()
  it("gets a response: status, headers, body", function()
    local srv = H.serve(function(req, res)
      res:send(200, "hi " .. req.path, { ["Content-Type"] = "text/plain" })
    end)
    local r = assert(http.request { url = srv.url .. "/x?y=1" })
    assert.equal(200, r.status)
    assert.equal("hi /x", r.body)
    assert.equal("text/plain", r.headers["content-type"])
    r = assert(srv:get("/z"))
    assert.equal("hi /z", r.body)
    srv:close()
  end)

  it("sends a method, fields and a body", function()
    local seen
    local srv = H.serve(function(req, res)
      seen = req.headers
      echo(req, res)
    end)
    local r = assert(srv:request { method = "put", path = "/up", body = "payload",
                                   headers = { ["X-Token"] = "abc", Accept = { "a", "b" } } })
    assert.equal("payload", r.body)
    assert.equal("PUT", r.headers["x-method"])
    assert.equal("abc", seen["x-token"])
    assert.equal("a, b", seen.accept)
    assert.equal("7", seen["content-length"])
    assert.matches("^host/", seen["user-agent"])
    srv:close()
  end)

  it("reuses its connection (keep-alive, one pool per worker)", function()
    local srv = H.serve(echo)
    local peers = {}
    for i = 1, 5 do
      local r = assert(srv:request { path = "/" .. i })
      peers[r.headers["x-peer"]] = true
    end
    local n = 0
    for _ in pairs(peers) do n = n + 1 end
    assert.equal(1, n)
    srv:close()
  end)

  it("takes a new connection after Connection: close", function()
    local srv = H.serve(function(req, res)
      res:send(200, req.peer, { Connection = "close" })
    end)
    local a = assert(srv:get("/")).body
    local b = assert(srv:get("/")).body
    assert.are_not.equal(a, b)
    srv:close()
  end)

  it("retries once when a pooled connection was closed by the server", function()
    local srv = H.serve(echo, { idle_timeout = 0.1 })
    local a = assert(srv:get("/")).headers["x-peer"]
    host.sleep(0.3) -- the server closes the idle connection
    local r = assert(srv:get("/"))
    assert.equal(200, r.status)
    assert.are_not.equal(a, r.headers["x-peer"])
    srv:close()
  end)

  it("uploads a chunked body from a function", function()
    local srv = H.serve(function(req, res)
      res:send(200, req.headers["transfer-encoding"] .. ":" .. assert(req:body()))
    end)
    local pieces = { "one,", "two,", "", "three" }
    local i = 0
    local r = assert(srv:request { method = "POST", path = "/", body = function()
      i = i + 1
      return pieces[i]
    end })
    assert.equal("chunked:one,two,three", r.body)
    srv:close()
  end)

  it("makes HEAD requests", function()
    local srv = H.serve(function(req, res) res:send(200, "123456") end)
    local r = assert(srv:request { method = "HEAD", path = "/" })
    assert.equal("6", r.headers["content-length"])
    assert.equal("", r.body)
    r = assert(srv:get("/")) -- the connection is still in step
    assert.equal("123456", r.body)
    srv:close()
  end)

  it("streams a large response with http.request_stream", function()
    local srv = H.serve(function(req, res)
      res:start(200)
      for i = 1, 100 do res:write(string.rep(string.char(64 + i % 26), 10000)) end
      res:finish()
    end)
    local resp = assert(http.request_stream { url = srv.url .. "/" })
    assert.equal(200, resp.status)
    assert.equal("chunked", resp.headers["transfer-encoding"])
    local total, pieces = 0, 0
    for piece in resp:reader() do
      total = total + #piece
      pieces = pieces + 1
    end
    assert.equal(1000000, total)
    assert.is_true(pieces > 1)
    resp = assert(http.request_stream { url = srv.url .. "/" })
    assert.equal(1000000, #assert(resp:body()))
    srv:close()
  end)

  it("refuses a body over max_body", function()
    local srv = H.serve(function(req, res) res:send(200, string.rep("x", 1000)) end)
    local r, err = srv:request { path = "/", max_body = 999 }
    assert.is_nil(r)
    assert.equal("too large", err)
    assert.equal(1000, #assert(srv:request { path = "/", max_body = 1000 }).body)
    srv:close()
  end)

  it("returns nil, 'refused' when nobody listens", function()
    local l = assert(host.listen("127.0.0.1:0", function() end))
    local address = l.address
    l:close()
    local r, err = http.request { url = "http://" .. address .. "/", timeout = 5 }
    assert.is_nil(r)
    assert.truthy(err == "refused" or err == "timeout")
  end)

  it("returns nil, 'timeout' when the server does not answer", function()
    local l = H.accepting_raw()
    local r, err = http.request { url = "http://" .. l.address .. "/", timeout = 0.2 }
    assert.is_nil(r)
    assert.equal("timeout", err)
    l:close()
  end)

  it("returns nil, 'bad response' for something that is not HTTP", function()
    local l = assert(host.listen("127.0.0.1:0", function(conn)
      conn:read("l")
      conn:send("SSH-2.0-OpenSSH\r\n\r\n")
    end))
    local r, err = http.request { url = "http://" .. l.address .. "/" }
    assert.is_nil(r)
    assert.equal("bad response", err)
    l:close()
  end)

  it("raises on a bad URL, method or field", function()
    checkerr("not an http(s) URL", http.request, { url = "ftp://x/" })
    checkerr("a table with a url expected", http.request, {})
    checkerr("invalid header name", http.request, { url = "http://127.0.0.1:1/", headers = { ["a b"] = "c" } })
    checkerr("invalid value for header", http.request,
      { url = "http://127.0.0.1:1/", headers = { A = "x\r\nB: y" } })
    checkerr("is set by the client", http.request, { url = "http://127.0.0.1:1/", headers = { Host = "x" } })
  end)

  it("speaks https through host.connect's TLS", function()
    local srv = H.serve(echo, { tls = { cert = certs .. "/server.pem", key = certs .. "/server.key" } })
    assert.matches("^https://", srv.url)
    local r = assert(srv:request { method = "POST", path = "/s", body = "secret",
                                   tls = { ca = certs .. "/ca.pem" } })
    assert.equal("secret", r.body)
    local r2 = assert(srv:request { path = "/t", tls = { ca = certs .. "/ca.pem" } })
    assert.equal(r.headers["x-peer"], r2.headers["x-peer"]) -- kept alive
    local bad, err = http.request { url = srv.url .. "/", timeout = 5 }
    assert.is_nil(bad)
    assert.equal("tls", err) -- not our CA: verification fails
    srv:close()
  end)
end)

describe("http.unescape and http.escape", function()
  it("percent-code", function()
    assert.equal("a b/c%zz+", http.unescape("a%20b%2Fc%zz+"))
    assert.equal("a b", http.unescape("a+b", true))
    assert.equal("a%20b%2F%C3%A9-_.~", http.escape("a b/\195\169-_.~"))
  end)
end)
