-- host.http's WebSocket: the handshake, messages both ways, control
-- frames, the close handshake, limits and protocol errors (a raw client
-- that writes frames by hand, so the server's answers are seen exactly).
local host = require "host"
local http = require "host.http"
local H = require "http_helper"

-- A WebSocket echo: each message back, until the close.
local function ws_echo(options)
  return function(req, res)
    local ws = assert(http.websocket(req, res, options))
    while true do
      local data, kind = ws:recv()
      if not data or kind == "close" then return end
      assert(ws:send(data, kind))
    end
  end
end

local function ws_url(srv) return "ws://" .. srv.address .. "/chat" end

-- ---- a raw client's frames ---------------------------------------------

local function frame(op, payload, fin, mask)
  local b1 = (fin == false and 0 or 0x80) | op
  local n = #payload
  local head
  local mbit = mask == false and 0 or 0x80
  if n < 126 then
    head = string.char(b1, mbit | n)
  elseif n < 65536 then
    head = string.char(b1, mbit | 126) .. string.pack(">I2", n)
  else
    head = string.char(b1, mbit | 127) .. string.pack(">I8", n)
  end
  if mask == false then return head .. payload end
  local key = { 1, 2, 3, 4 }
  local out = {}
  for i = 1, n do
    out[i] = string.char(payload:byte(i) ~ key[(i - 1) % 4 + 1])
  end
  return head .. string.char(1, 2, 3, 4) .. table.concat(out)
end

-- Reads one (unmasked) frame: opcode, payload, fin.
local function read_frame(conn)
  local h = assert(conn:read(2))
  local b1, b2 = h:byte(1, 2)
  local n = b2 & 0x7f
  if n == 126 then
    n = string.unpack(">I2", conn:read(2))
  elseif n == 127 then
    n = string.unpack(">I8", conn:read(8))
  end
  assert(b2 & 0x80 == 0, "a server's frame must not be masked")
  return b1 & 0x0f, n > 0 and conn:read(n) or "", b1 & 0x80 ~= 0
end

local function raw_ws(srv)
  local c = H.connect(srv)
  assert(c:send("GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ..
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
  local r = assert(H.read_response(c))
  assert.equal(101, r.status)
  assert.equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", r.headers["sec-websocket-accept"])
  assert.equal("websocket", r.headers.upgrade)
  assert.equal("Upgrade", r.headers.connection)
  return c
end

describe("http.websocket", function()
  it("echoes text and binary messages with websocket_connect", function()
    local srv = H.serve(ws_echo(), { ws_max_frame = 2 << 20, ws_max_message = 2 << 20 })
    local ws = assert(http.websocket_connect(ws_url(srv), { ws_max_frame = 2 << 20 }))
    assert(ws:send("hello"))
    assert.same({ "hello", "text" }, { ws:recv() })
    assert(ws:send("\0\1\2\255", "binary"))
    assert.same({ "\0\1\2\255", "binary" }, { ws:recv() })
    assert(ws:send(""))
    assert.same({ "", "text" }, { ws:recv() })
    local big = string.rep("abcdefgh", 192 * 1024) -- 1.5 MiB, one frame
    assert(ws:send(big, "binary"))
    local got = assert(ws:recv())
    assert.is_true(got == big)
    for i = 1, 100 do assert(ws:send("m" .. i)) end
    for i = 1, 100 do assert.equal("m" .. i, (ws:recv())) end
    assert.equal("open", ws:state())
    assert.is_true(ws:close())
    assert.equal("closed", ws:state())
    srv:close()
  end)

  it("does the close handshake both ways", function()
    local got
    local srv = H.serve(function(req, res)
      local ws = assert(http.websocket(req, res))
      got = { ws:recv() }
      if got[1] == "please close" then
        got = { ws:recv() }
      end
    end)
    local ws = assert(http.websocket_connect(ws_url(srv)))
    ws:close(4000, "bye")
    assert.same({ "bye", "close", 4000 }, got)
    local srv2 = H.serve(function(req, res)
      local ws2 = assert(http.websocket(req, res))
      ws2:close(1001, "going away")
    end)
    ws = assert(http.websocket_connect(ws_url(srv2)))
    assert.same({ "going away", "close", 1001 }, { ws:recv() })
    assert.same({ nil, "closed" }, { ws:recv() })
    checkerr("not a close code", ws._close_frame, ws, 1005)
    srv:close()
    srv2:close()
  end)

  it("answers pings, drops pongs, takes fragments with controls between", function()
    local srv = H.serve(ws_echo())
    local c = raw_ws(srv)
    assert(c:send(frame(0x9, "are you there")))
    assert.same({ 0xA, "are you there", true }, { read_frame(c) })
    assert(c:send(frame(0xA, "unsolicited") .. frame(0x1, "hel", false) .. frame(0x9, "p") ..
      frame(0x0, "lo ", false) .. frame(0x0, "world")))
    assert.same({ 0xA, "p", true }, { read_frame(c) })
    assert.same({ 0x1, "hello world", true }, { read_frame(c) })
    assert(c:send(frame(0x8, string.pack(">I2", 1000) .. "done")))
    assert.same({ 0x8, string.pack(">I2", 1000), true }, { read_frame(c) })
    assert.is_true(H.closed(c))
    srv:close()
  end)

  local errors = {
    { "an unmasked frame", frame(0x1, "x", true, false), 1002, "protocol error" },
    { "a reserved opcode", frame(0x3, "x"), 1002, "protocol error" },
    { "text that is not UTF-8", frame(0x1, "\255\254"), 1007, "protocol error" },
    { "a continuation with no message", frame(0x0, "x"), 1002, "protocol error" },
    { "a frame over the limit", frame(0x2, string.rep("x", 2000)), 1009, "too long" },
    { "a message over the limit", frame(0x2, string.rep("x", 800), false) ..
      frame(0x0, string.rep("x", 800)), 1009, "too long" },
  }
  for _, case in ipairs(errors) do
    it("closes with " .. case[3] .. " on " .. case[1], function()
      local err
      local srv = H.serve(function(req, res)
        local ws = assert(http.websocket(req, res))
        err = select(2, ws:recv())
      end, { ws_max_frame = 1000, ws_max_message = 1500 })
      local c = raw_ws(srv)
      assert(c:send(case[2]))
      local op, payload = read_frame(c)
      assert.equal(0x8, op)
      assert.equal(case[3], string.unpack(">I2", payload))
      assert.is_true(H.closed(c))
      assert.equal(case[4], err)
      srv:close()
    end)
  end

  it("answers what is not a handshake with 400, another version with 426", function()
    local ret
    local srv = H.serve(function(req, res) ret = { http.websocket(req, res) } end)
    local r = assert(H.exchange(srv, H.get("/")))
    assert.equal(400, r.status)
    assert.same({ nil, "not a websocket request" }, ret)
    r = assert(H.exchange(srv, H.get("/", "Upgrade: websocket\r\nConnection: upgrade\r\n" ..
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n")))
    assert.equal(426, r.status)
    assert.equal("13", r.headers["sec-websocket-version"])
    r = assert(H.exchange(srv, H.get("/", "Upgrade: websocket\r\nConnection: upgrade\r\n" ..
      "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n")))
    assert.equal(400, r.status)
    srv:close()
  end)

  it("agrees on a subprotocol", function()
    local srv = H.serve(ws_echo { protocols = { "v2", "v1" } })
    local ws, proto = assert(http.websocket_connect(ws_url(srv), { protocols = { "v1", "v2" } }))
    assert.equal("v2", proto)
    ws:close()
    ws, proto = assert(http.websocket_connect(ws_url(srv), { protocols = { "v3" } }))
    assert.is_nil(proto)
    ws:close()
    srv:close()
  end)

  it("fails to connect to a server that does not upgrade", function()
    local srv = H.serve(function(req, res) res:send(404, "no") end)
    assert.same({ nil, "handshake failed", 404 }, { http.websocket_connect(ws_url(srv)) })
    srv:close()
  end)

  it("times out a recv", function()
    local srv = H.serve(function(req, res)
      local ws = assert(http.websocket(req, res))
      ws:recv()
    end)
    local ws = assert(http.websocket_connect(ws_url(srv), { recv_timeout = 0.1 }))
    assert.same({ nil, "timeout" }, { ws:recv() })
    assert.same({ nil, "timeout" }, { ws:recv(0.05) })
    ws:close()
    srv:close()
  end)
end)
