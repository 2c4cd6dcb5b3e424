-- host.http, the server: what a handler gets, what it sends, keep-alive,
-- pipelining, HTTP/1.0, bodies, limits, timeouts and statuses.  Raw
-- connections (tests/lua/http_helper.lua) so that each test sees the
-- exact bytes the server sends.
local host = require "host"
local http = require "host.http"
local H = require "http_helper"

local function hello(req, res)
  res:send(200, "hello\n", { ["Content-Type"] = "text/plain" })
end

describe("http server", function()
  it("answers a GET with the body, Content-Length and Date", function()
    local srv = H.serve(hello)
    local r = assert(H.exchange(srv, H.get("/")))
    assert.equal(200, r.status)
    assert.equal("OK", r.reason)
    assert.equal("hello\n", r.body)
    assert.equal("6", r.headers["content-length"])
    assert.equal("text/plain", r.headers["content-type"])
    assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$", r.headers.date)
    assert.is_nil(r.headers.connection)
    srv:close()
  end)

  it("gives the handler the request line's pieces", function()
    local got
    local srv = H.serve(function(req, res)
      got = { req.method, req.target, req.path, req.query, req.version }
      res:send(204)
    end)
    local r = assert(H.exchange(srv, "DELETE /a/b%20c?x=1&y HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert.equal(204, r.status)
    assert.is_nil(r.headers["content-length"])
    assert.same({ "DELETE", "/a/b%20c?x=1&y", "/a/b%20c", "x=1&y", "1.1" }, got)
    r = assert(H.exchange(srv, "PURGE /p HTTP/1.0\r\n\r\n"))
    assert.same({ "PURGE", "/p", "/p", nil, "1.0" }, got)
    r = assert(H.exchange(srv, "GET /q? HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert.equal("", got[4])
    srv:close()
  end)

  it("builds req.headers on demand: lower case, repeated fields joined", function()
    local got, one, none
    local srv = H.serve(function(req, res)
      one = req:header("x-ONE")
      none = req:header("missing")
      got = req.headers
      res:send(200, "")
    end)
    assert(H.exchange(srv, "GET / HTTP/1.1\r\nHost: t\r\nX-One: a\r\nAccept: x\r\n" ..
      "x-one: b\r\nSet-Cookie: c=1\r\nSet-Cookie: d=2\r\nCookie: e=3\r\nCookie: f=4\r\n\r\n"))
    assert.equal("a, b", one)
    assert.is_nil(none)
    assert.equal("t", got.host)
    assert.equal("a, b", got["x-one"])
    assert.equal("x", got.accept)
    assert.same({ "c=1", "d=2" }, got["set-cookie"])
    assert.equal("e=3; f=4", got.cookie)
    srv:close()
  end)

  it("decodes the query with req:args()", function()
    local args, trunc
    local srv = H.serve(function(req, res)
      args = req:args()
      res:send(200, "")
    end, { max_args = 4 })
    assert(H.exchange(srv, H.get("/?a=1&b=x%20y+z&flag&a=2&&c=%zz")))
    assert.same({ a = { "1", "2" }, b = "x y z", flag = true }, args)
    srv:close()
    srv = H.serve(function(req, res)
      args, trunc = req:args()
      res:send(200, "")
    end, { max_args = 2 })
    assert(H.exchange(srv, H.get("/?a=1&b=2&c=3")))
    assert.same({ a = "1", b = "2" }, args)
    assert.equal("truncated", trunc)
    srv:close()
  end)

  it("knows the peer", function()
    local peer
    local srv = H.serve(function(req, res)
      peer = req.peer
      res:send(200, "")
    end)
    local r, _, c = H.exchange(srv, H.get("/"))
    assert(r)
    assert.equal(c.address, peer)
    srv:close()
  end)

  it("lets the handler set fields of its own on req", function()
    local got
    local srv = H.serve(function(req, res)
      req.user = "ann"
      req.path = "/rewritten"
      got = { req.user, req.path, req.target, tostring(req), req.nothing }
      res:send(200, "")
    end)
    assert(H.exchange(srv, H.get("/orig?q")))
    assert.same({ "ann", "/rewritten", "/orig?q", "http request (GET /orig?q)" }, got)
    srv:close()
  end)

  it("sends the fields of an http.headers block", function()
    local FIELDS = http.headers { ["X-A"] = "1", ["Set-Cookie"] = { "a=1", "b=2" },
                                  ["Content-Length"] = 99, Connection = "close" }
    local srv = H.serve(function(req, res) res:send(200, "body", FIELDS) end)
    local r, _, c = H.exchange(srv, H.get("/"))
    assert.equal("1", r.headers["x-a"])
    assert.equal("a=1, b=2", r.headers["set-cookie"])
    assert.equal("4", r.headers["content-length"]) -- send's own length wins
    assert.equal("body", r.body)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    checkerr("invalid header value", http.headers, { A = "x\ny" })
    checkerr("table expected", http.headers, io.stdout)
    srv:close()
  end)

  it("refuses a headers argument that is neither a table nor a block", function()
    local err
    local srv = H.serve(function(req, res)
      err = select(2, pcall(res.send, res, 200, "x", io.stdout))
      res:send(200, "x")
    end)
    assert(H.exchange(srv, H.get("/")))
    assert.matches("table of header fields expected", err)
    srv:close()
  end)

  it("keeps the connection alive for HTTP/1.1", function()
    local n = 0
    local srv = H.serve(function(req, res)
      n = n + 1
      res:send(200, "n=" .. n)
    end)
    local c = H.connect(srv)
    for i = 1, 3 do
      assert(c:send(H.get("/" .. i)))
      local r = assert(H.read_response(c))
      assert.equal("n=" .. i, r.body)
    end
    c:close()
    srv:close()
  end)

  it("answers pipelined requests in order, in one batch", function()
    local srv = H.serve(function(req, res) res:send(200, req.path) end)
    local c = H.connect(srv)
    local batch = {}
    for i = 1, 16 do batch[i] = H.get("/p" .. i) end
    assert(c:send(table.concat(batch)))
    for i = 1, 16 do
      local r = assert(H.read_response(c))
      assert.equal("/p" .. i, r.body)
    end
    c:close()
    srv:close()
  end)

  it("closes an HTTP/1.0 connection unless it asked for keep-alive", function()
    local srv = H.serve(hello)
    local r, _, c = H.exchange(srv, "GET / HTTP/1.0\r\n\r\n")
    assert.equal("hello\n", r.body)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    c = H.connect(srv)
    for _ = 1, 2 do
      assert(c:send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
      r = assert(H.read_response(c))
      assert.equal("keep-alive", r.headers.connection)
      assert.equal("hello\n", r.body)
    end
    c:close()
    srv:close()
  end)

  it("closes after Connection: close, from the client or the handler", function()
    local srv = H.serve(function(req, res)
      res:send(200, "x", req.path == "/bye" and { Connection = "close" } or nil)
    end)
    local r, _, c = H.exchange(srv, H.get("/", "Connection: close\r\n"))
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    r, _, c = H.exchange(srv, H.get("/bye"))
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    srv:close()
  end)

  it("answers HEAD with the head only", function()
    local srv = H.serve(hello)
    local c = H.connect(srv)
    assert(c:send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" .. H.get("/")))
    local r = assert(H.read_response(c, true))
    assert.equal("6", r.headers["content-length"])
    r = assert(H.read_response(c))
    assert.equal("hello\n", r.body) -- nothing was sent for the HEAD
    c:close()
    srv:close()
  end)

  it("sends an empty 200 when the handler sent nothing", function()
    local srv = H.serve(function() end)
    local r = assert(H.exchange(srv, H.get("/")))
    assert.equal(200, r.status)
    assert.equal("0", r.headers["content-length"])
    srv:close()
  end)

  it("sends a 500 and closes when the handler raises", function()
    local srv = H.serve(function() error("boom") end)
    local r, _, c = H.exchange(srv, H.get("/"))
    assert.equal(500, r.status)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    local errs = task_errors()
    assert.equal(1, #errs)
    assert.matches("boom", errs[1])
    srv:close()
  end)

  it("raises on a header that could split the response", function()
    local err
    local srv = H.serve(function(req, res)
      local ok, e = pcall(res.send, res, 200, "x", { ["X-A"] = "a\r\nInjected: 1" })
      err = not ok and e
      ok, e = pcall(res.send, res, 200, "x", { ["Bad Name"] = "v" })
      err = err and not ok and err .. " / " .. e
      res:send(200, "fine")
    end)
    local r = assert(H.exchange(srv, H.get("/")))
    assert.equal("fine", r.body)
    assert.is_nil(r.headers.injected)
    assert.matches("invalid header value for 'X%-A'", err)
    assert.matches("invalid header name 'Bad Name'", err)
    srv:close()
  end)

  it("refuses a request or response used after its handler returned", function()
    local kept
    local srv = H.serve(function(req, res)
      kept = { req, res }
      res:send(200, "")
    end)
    local c = H.connect(srv)
    assert(c:send(H.get("/")))
    assert(H.read_response(c))
    assert(c:send(H.get("/")))
    assert(H.read_response(c))
    checkerr("the request is over", kept[2].send, kept[2], 200, "late")
    checkerr("the request is over", function() return kept[1].headers end)
    c:close()
    srv:close()
  end)

  it("takes several header values as a list, and numbers", function()
    local srv = H.serve(function(req, res)
      res:send(201, "", { ["Set-Cookie"] = { "a=1", "b=2" }, ["X-N"] = 42 })
    end)
    local r = assert(H.exchange(srv, H.get("/")))
    assert.equal(201, r.status)
    assert.equal("a=1, b=2", r.headers["set-cookie"])
    assert.equal("42", r.headers["x-n"])
    srv:close()
  end)

  it("sends a large body whole", function()
    local big = string.rep("0123456789abcdef", 65536) -- 1 MiB
    local srv = H.serve(function(req, res) assert(res:send(200, big)) end)
    local c = H.connect(srv)
    assert(c:send(H.get("/") .. H.get("/")))
    for _ = 1, 2 do
      local r = assert(H.read_response(c))
      assert.equal(#big, #r.body)
      assert.is_true(r.body == big)
    end
    c:close()
    srv:close()
  end)
end)

describe("http streaming responses", function()
  it("are chunked without a length", function()
    local srv = H.serve(function(req, res)
      assert(res:start(200, { ["Content-Type"] = "text/plain" }))
      for i = 1, 3 do assert(res:write("part" .. i .. ";")) end
      res:write("")
      assert(res:finish("end"))
    end)
    local c = H.connect(srv)
    assert(c:send(H.get("/") .. H.get("/")))
    for _ = 1, 2 do
      local r = assert(H.read_response(c))
      assert.is_true(r.chunked)
      assert.equal("part1;part2;part3;end", r.body)
    end
    c:close()
    srv:close()
  end)

  it("use a Content-Length when the handler gives one", function()
    local srv = H.serve(function(req, res)
      res:start(200, { ["Content-Length"] = 10 })
      res:write("01234")
      local ok, err = pcall(res.write, res, "too much!!")
      assert(not ok and err:find("more body than its Content%-Length"))
      res:write("56789")
      res:finish()
    end)
    local r = assert(H.exchange(srv, H.get("/")))
    assert.equal("0123456789", r.body)
    assert.is_nil(r.headers["transfer-encoding"])
    srv:close()
  end)

  it("end with the close for HTTP/1.0", function()
    local srv = H.serve(function(req, res)
      res:start(200)
      res:write("a")
      res:flush()
      res:write("b")
    end)
    local r = assert(H.exchange(srv, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    assert.is_true(r.closed)
    assert.equal("ab", r.body)
    srv:close()
  end)

  it("are ended by the module when the handler returns", function()
    local srv = H.serve(function(req, res)
      res:start(200)
      res:write("open")
    end)
    local c = H.connect(srv)
    assert(c:send(H.get("/") .. H.get("/")))
    for _ = 1, 2 do
      local r = assert(H.read_response(c))
      assert.equal("open", r.body)
    end
    c:close()
    srv:close()
  end)
end)

describe("http request bodies", function()
  local function echo_body(req, res)
    local body, err = req:body()
    if not body then return res:send(499, err) end
    res:send(200, body)
  end

  it("reads a Content-Length body", function()
    local srv = H.serve(echo_body)
    local r = assert(H.exchange(srv, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"))
    assert.equal("hello", r.body)
    srv:close()
  end)

  it("reads a chunked body, with extensions and trailers", function()
    local srv = H.serve(echo_body)
    local c = H.connect(srv)
    assert(c:send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "5;ext=1\r\nhello\r\n"))
    host.sleep(0.05)
    assert(c:send("1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n" .. H.get("/next")))
    local r = assert(H.read_response(c))
    assert.equal("hello world", r.body)
    r = assert(H.read_response(c))
    assert.equal(200, r.status)
    c:close()
    srv:close()
  end)

  it("reads a body piece by piece with req:reader()", function()
    local pieces
    local srv = H.serve(function(req, res)
      pieces = {}
      for piece in req:reader(4) do pieces[#pieces + 1] = piece end
      res:send(200, table.concat(pieces))
    end)
    local r = assert(H.exchange(srv, "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789"))
    assert.equal("0123456789", r.body)
    assert.same({ "0123", "4567", "89" }, pieces)
    r = assert(H.exchange(srv, "PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "3\r\nabc\r\n7\r\ndefghij\r\n0\r\n\r\n"))
    assert.equal("abcdefghij", r.body)
    for _, p in ipairs(pieces) do assert.is_true(#p <= 4) end
    srv:close()
  end)

  it("discards a body the handler did not read, and goes on", function()
    local srv = H.serve(function(req, res) res:send(200, req.path) end)
    local c = H.connect(srv)
    assert(c:send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" ..
      "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" ..
      H.get("/c")))
    for _, p in ipairs { "/a", "/b", "/c" } do
      assert.equal(p, assert(H.read_response(c)).body)
    end
    c:close()
    srv:close()
  end)

  it("answers 100 Continue when the handler reads the body", function()
    local srv = H.serve(echo_body)
    local c = H.connect(srv)
    assert(c:send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"))
    local r = assert(H.read_response(c))
    assert.equal(100, r.status)
    assert(c:send("data"))
    r = assert(H.read_response(c))
    assert.equal(200, r.status)
    assert.equal("data", r.body)
    c:close()
    srv:close()
  end)

  it("does not ask for a body the handler refuses, and closes", function()
    local srv = H.serve(function(req, res) res:send(401, "no") end)
    local c = H.connect(srv)
    assert(c:send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"))
    local r = assert(H.read_response(c))
    assert.equal(401, r.status)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    srv:close()
  end)

  it("refuses a Content-Length over max_body with 413, before the handler", function()
    local called = false
    local srv = H.serve(function(req, res) called = true end, { max_body = 10 })
    local r, _, c = H.exchange(srv, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n")
    assert.equal(413, r.status)
    assert.is_false(called)
    assert.is_true(H.closed(c))
    srv:close()
  end)

  it("stops a chunked body over the limit: nil, 'too large', and 413", function()
    local err
    local srv = H.serve(function(req, res) err = select(2, req:body(8)) end)
    local r, _, c = H.exchange(srv, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n")
    assert.equal("too large", err)
    assert.equal(413, r.status)
    assert.is_true(H.closed(c))
    srv:close()
  end)

  it("answers a bad chunk size with 400", function()
    local err
    local srv = H.serve(function(req, res) err = select(2, req:body()) end)
    local r, _, c = H.exchange(srv, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "zz\r\nhello\r\n0\r\n\r\n")
    assert.equal("bad request", err)
    assert.equal(400, r.status)
    assert.is_true(H.closed(c))
    srv:close()
  end)

  it("times out a body that never ends: nil, 'timeout', and 408", function()
    local err
    local srv = H.serve(function(req, res) err = select(2, req:body()) end, { body_timeout = 0.2 })
    local r, _, c = H.exchange(srv, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly this")
    assert.equal("timeout", err)
    assert.equal(408, r.status)
    assert.is_true(H.closed(c))
    srv:close()
  end)
end)

describe("http hostile input", function()
  local function status_of(srv, text)
    local r, err, c = H.exchange(srv, text)
    assert(r, err)
    assert.equal("close", r.headers.connection)
    assert.is_true(H.closed(c))
    return r.status
  end

  local cases = {
    { "a bad request line", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400 },
    { "Content-Length and Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
    { "two Content-Lengths", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 },
    { "a Content-Length that is not a number", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", 400 },
    { "obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n  folded\r\n\r\n", 400 },
    { "a space before the colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400 },
    { "no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400 },
    { "a bare CR", "GET / HTTP/1.1\rHost: t\r\n\r\n", 400 },
    { "a transfer coding other than chunked",
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
    { "HTTP/2.0 in a request line", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505 },
    { "a request line over max_line", "GET /" .. string.rep("a", 9000) .. " HTTP/1.1\r\nHost: t\r\n\r\n", 414 },
    { "a field over max_header", "GET / HTTP/1.1\r\nHost: t\r\nX: " .. string.rep("b", 9000) .. "\r\n\r\n", 431 },
    { "more fields than max_headers",
      "GET / HTTP/1.1\r\nHost: t\r\n" .. string.rep("X: y\r\n", 101) .. "\r\n", 431 },
    { "a TLS ClientHello", "\22\3\1\0\200\1\0\0\124\3\3" .. string.rep("\0", 40), 400 },
  }
  for _, case in ipairs(cases) do
    it("answers " .. case[1] .. " with " .. case[3] .. " and closes", function()
      local called = false
      local srv = H.serve(function(req, res)
        called = true
        res:send(200, "")
      end)
      assert.equal(case[3], status_of(srv, case[2]))
      assert.is_false(called)
      srv:close()
    end)
  end

  it("answers the valid request before pipelined garbage, then 400", function()
    local srv = H.serve(hello)
    local c = H.connect(srv)
    assert(c:send(H.get("/") .. "\1\2\3 garbage\r\n\r\n"))
    assert.equal(200, assert(H.read_response(c)).status)
    local r = assert(H.read_response(c))
    assert.equal(400, r.status)
    assert.is_true(H.closed(c))
    srv:close()
  end)

  it("sends 408 to a client that sends its head too slowly", function()
    local srv = H.serve(hello, { header_timeout = 0.3 })
    local c = H.connect(srv)
    local t0 = host.now()
    for _, piece in ipairs { "GET / HT", "TP/1.1\r\n", "Host: t\r\n" } do
      if not c:send(piece) then break end
      host.sleep(0.12)
    end
    local r = assert(H.read_response(c))
    assert.equal(408, r.status)
    assert.is_true(H.closed(c))
    assert.is_true(host.now() - t0 < 2)
    srv:close()
  end)

  it("closes a connection that sends nothing, quietly", function()
    local srv = H.serve(hello, { header_timeout = 0.2 })
    local c = H.connect(srv)
    local data, err = c:recv()
    assert.is_nil(data)
    assert.equal("closed", err)
    srv:close()
  end)

  it("closes an idle keep-alive connection after idle_timeout", function()
    local srv = H.serve(hello, { idle_timeout = 0.2 })
    local c = H.connect(srv)
    assert(c:send(H.get("/")))
    assert(H.read_response(c))
    local t0 = host.now()
    assert.is_true(H.closed(c))
    assert.is_true(host.now() - t0 >= 0.15)
    srv:close()
  end)

  it("stops reading for a pipelining client that does not read", function()
    local n = 0
    local srv = H.serve(function(req, res)
      n = n + 1
      res:send(200, string.rep("x", 4096))
    end, { send_timeout = 0.5 })
    local c = H.connect(srv)
    local batch = string.rep(H.get("/"), 1000)
    for _ = 1, 40 do -- 40,000 requests, never reading the answers
      if not c:send(batch) then break end
    end
    host.sleep(1)
    assert.is_true(n < 40000) -- it waited on its output, bounded
    c:close("reset")
    srv:close()
  end)
end)

describe("http options", function()
  it("raise on a bad value", function()
    checkerr("http option 'max_body' must be an integer", http.server, hello, { max_body = -1 })
    checkerr("http option 'header_timeout' must be a positive number", http.server, hello,
      { header_timeout = "soon" })
    checkerr("a handler function expected", http.server, 42)
  end)
end)
