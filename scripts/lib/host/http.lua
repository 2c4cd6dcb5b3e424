-- host.http: HTTP/1.1 and WebSocket for handlers, the Lua half.
--
-- The C half (host.http.core, src/lua/lhttp*.c) reads request heads and
-- bodies in the connection's buffers and writes responses into its output
-- queue; this file is the API on top: http.server (the per-connection
-- loop: the next request, the handler, what it left undone), the request
-- object's lazy fields, the client (http.request, a keep-alive pool per
-- worker, a streaming variant), WebSocket (http.websocket,
-- http.websocket_connect) and the helpers for tests (http.listen).
--
-- Failures the peer or the network cause return nil, err; misuse raises.

local host = require "host"
local core = require "host.http.core"

local M = {}

local xpcall, traceback, error = xpcall, debug.traceback, error
local type, pairs, tostring = type, pairs, tostring
local concat, format = table.concat, string.format
local next_request, abort, session = core.next, core.abort, core.session

-- ---- requests --------------------------------------------------------------
-- A request is a userdata of the C half: req.method, req.target,
-- req.path, req.query, req.version, req.headers (built on first use),
-- req.peer; req:body([max]), req:reader([max]), req:header(name),
-- req:args(); and the handler's own fields (req.user = ...).

-- ---- the server ----------------------------------------------------------

local conn_handlers = setmetatable({}, { __mode = "k" }) -- made by http.server

-- http.server(handler [, options]) -> a connection handler that serves
-- HTTP/1.1 (keep-alive, pipelining, HTTP/1.0) with handler(req, res).
function M.server(handler, options)
  if type(handler) ~= "function" then
    error("http.server: a handler function expected, got " .. type(handler), 2)
  end
  local o = core.options(options)
  local function serve(conn)
    local s = session(conn, o)
    while true do
      local req, res = next_request(s)
      if not req then return end
      local ok, err = xpcall(handler, traceback, req, res)
      if not ok then
        abort(s) -- a 500 if nothing was sent; the connection closes
        error(err, 0)
      end
    end
  end
  conn_handlers[serve] = true
  return serve
end

-- ---- the test helper: a server on a port, and requests to it --------------

local Server = {}
Server.__index = Server

function Server:request(t)
  if type(t) == "string" then t = { path = t } end
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  r.url = self.url .. (t.path or "/")
  r.path = nil
  return M.request(r)
end

function Server:get(path, headers)
  return self:request { path = path, headers = headers }
end

function Server:close()
  return self.listener:close()
end

-- http.listen(address, handler [, options]) -> server | nil, err: listens
-- (port 0 picks one) with http.server(handler, options), or with handler
-- itself if http.server made it (a handler script's result, as
-- loadhandler returns it); server.url is
-- "http://ip:port", server:request{path =, ...} and server:get(path)
-- make requests to it, server:close() stops it.  options go to
-- host.listen as well (tls, timeout...).
function M.listen(address, handler, options)
  if not conn_handlers[handler] then handler = M.server(handler, options) end
  local l, err = host.listen(address, handler, options)
  if not l then return nil, err end
  local scheme = options and options.tls and "https" or "http"
  return setmetatable({ listener = l, address = l.address,
                        url = scheme .. "://" .. l.address }, Server)
end

-- ---- the client --------------------------------------------------------------

local client_options = core.options { max_head = 65536, max_headers = 200,
                                      max_body = 1 << 30 }
local CLIENT_MAX_BODY = 16 << 20 -- http.request's body, unless max_body
local POOL_IDLE = 30             -- seconds a pooled connection is kept
local POOL_MAX = 16              -- idle connections kept per host and port

local pools = {} -- "scheme://host:port" -> list of {conn, session, since}

local function pool_get(key)
  local list = pools[key]
  local now = host.now()
  while list and #list > 0 do
    local e = table.remove(list)
    local ok, n = pcall(e[1].buffered, e[1]) -- raises once closed
    if ok and n == 0 and now - e[3] < POOL_IDLE then
      return e[1], e[2]
    end
    pcall(e[1].close, e[1])
  end
  return nil
end

local function pool_put(key, conn, s)
  local list = pools[key]
  if not list then
    list = {}
    pools[key] = list
  end
  if #list >= POOL_MAX then
    local old = table.remove(list, 1)
    pcall(old[1].close, old[1])
  end
  list[#list + 1] = { conn, s, host.now() }
end

local token_pat = "^[%w!#$%%&'*+%-.^_`|~]+$"

local function check_field(name, value)
  if type(name) ~= "string" or not name:find(token_pat) then
    error("http: invalid header name " .. tostring(name), 4)
  end
  value = tostring(value)
  if value:find("[%z\1-\8\10-\31\127]") then
    error("http: invalid value for header " .. name, 4)
  end
  return value
end

-- What tells pooled connections apart: the address and, for TLS, the
-- options it was verified with (a connection made with one CA must not
-- serve a request that names another).
local function pool_key(tls, hostname, port, t)
  local key = (tls and "https://" or "http://") .. hostname .. ":" .. port
  if tls and type(t.tls) == "table" then
    local parts = {}
    for k, v in pairs(t.tls) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(v) end
    table.sort(parts)
    key = key .. "\n" .. concat(parts, "\n")
  end
  return key
end

local idempotent = { GET = true, HEAD = true, PUT = true, DELETE = true,
                     OPTIONS = true, TRACE = true }

-- The request's head: request line, Host, the caller's fields, framing.
local function request_head(t, method, target, authority, body)
  local parts = { method, " ", target, " HTTP/1.1\r\nHost: ", authority, "\r\n" }
  local has_ua = false
  if t.headers then
    for name, value in pairs(t.headers) do
      local lname = type(name) == "string" and name:lower()
      if lname == "host" or lname == "content-length" or lname == "transfer-encoding" then
        error("http.request: header " .. name .. " is set by the client", 3)
      end
      if lname == "user-agent" then has_ua = true end
      if type(value) == "table" then
        for _, v in ipairs(value) do
          parts[#parts + 1] = name .. ": " .. check_field(name, v) .. "\r\n"
        end
      else
        parts[#parts + 1] = name .. ": " .. check_field(name, value) .. "\r\n"
      end
    end
  end
  if not has_ua then parts[#parts + 1] = "User-Agent: host/" .. host.version .. "\r\n" end
  if type(body) == "string" then
    if #body > 0 or (method ~= "GET" and method ~= "HEAD") then
      parts[#parts + 1] = "Content-Length: " .. #body .. "\r\n"
    end
  elseif body == nil then
    if method == "POST" or method == "PUT" or method == "PATCH" then
      parts[#parts + 1] = "Content-Length: 0\r\n" -- some servers want one
    end
  else
    parts[#parts + 1] = "Transfer-Encoding: chunked\r\n"
  end
  parts[#parts + 1] = "\r\n"
  return concat(parts)
end

-- Writes the head and the body (a string, or a function returning the
-- pieces of a chunked body, then nil); true | nil, err.
local function send_request(conn, head, body)
  if type(body) == "string" then
    local ok, err = conn:write(head, body)
    if not ok then return nil, err end
  else
    local ok, err = conn:write(head)
    if not ok then return nil, err end
    if body ~= nil then
      while true do
        local piece = body()
        if piece == nil then break end
        piece = tostring(piece)
        if #piece > 0 then
          ok, err = conn:write(format("%x\r\n", #piece), piece, "\r\n")
          if not ok then return nil, err end
        end
      end
      ok, err = conn:write("0\r\n\r\n")
      if not ok then return nil, err end
    end
  end
  return conn:flush()
end

-- Connects (or takes a pooled connection), sends, reads the response
-- head.  Returns an exchange {conn, s, key, status, headers, reused} or
-- nil, err [, detail].
local function exchange(t)
  if type(t) ~= "table" or type(t.url) ~= "string" then
    error("http.request: a table with a url expected", 3)
  end
  local hostname, port, target, authority, tls, ipv6 = core.url(t.url)
  if not hostname then error("http.request: not an http(s) URL: " .. t.url, 3) end
  local method = (t.method or "GET"):upper()
  if not method:find(token_pat) then error("http.request: invalid method", 3) end
  local body = t.body
  if body ~= nil and type(body) ~= "string" and type(body) ~= "function" then
    error("http.request: body must be a string or a function", 3)
  end
  local timeout = t.timeout or 60
  local key = pool_key(tls, hostname, port, t)
  local head = request_head(t, method, target, authority, body)
  local retry = idempotent[method] and type(body) ~= "function"
  for attempt = 1, 2 do
    local conn, s = pool_get(key)
    local reused = conn ~= nil
    if not conn then
      local address = (ipv6 and "[" .. hostname .. "]" or hostname) .. ":" .. port
      local err, detail
      local copts = { timeout = timeout }
      if tls then
        copts.tls = type(t.tls) == "table" and t.tls or true
      end
      conn, err, detail = host.connect(address, copts)
      if not conn then return nil, err, detail end
      s = session(conn, client_options, true)
    end
    conn:settimeout(timeout)
    local ok, err = send_request(conn, head, body)
    local status, headers
    if ok then
      status, headers = core.response(s, method == "HEAD")
      if not status then err = headers end
    end
    if status then
      return { conn = conn, s = s, key = key, status = status, headers = headers }
    end
    pcall(conn.close, conn)
    -- A pooled connection the server had closed: once more, afresh.
    if not (reused and retry and attempt == 1 and (err == "closed" or err == "reset")) then
      return nil, err
    end
  end
end

-- The exchange's body was read to its end: its connection goes back to
-- the pool when the response allows it.
local function done(x)
  if x.conn and core.reusable(x.s) then
    pool_put(x.key, x.conn, x.s)
  elseif x.conn then
    pcall(x.conn.close, x.conn)
  end
  x.conn = nil
end

-- http.request{method =, url =, headers =, body =, timeout =, tls =,
-- max_body =} -> {status =, headers =, body =} | nil, err.  body may be
-- a string or a function returning pieces (sent chunked).  Connections
-- are kept per worker and reused (keep-alive).
function M.request(t)
  local x, err, detail = exchange(t)
  if not x then return nil, err, detail end
  local body, berr = core.body(x.s, t.max_body or CLIENT_MAX_BODY)
  if not body then
    pcall(x.conn.close, x.conn)
    return nil, berr
  end
  done(x)
  return { status = x.status, headers = x.headers, body = body }
end

local Response = {}
Response.__index = Response

-- resp:read([max]) -> the next piece of the body | nil at the end |
-- nil, err
function Response:read(max)
  if not self._x.conn then return nil end
  local piece, err = core.read(self._x.s, max)
  if piece then return piece end
  if err then
    pcall(self._x.conn.close, self._x.conn)
    self._x.conn = nil
    return nil, err
  end
  done(self._x)
  return nil
end

function Response:reader(max)
  return function() return self:read(max) end
end

-- resp:body([max]) -> what is left of the body | nil, err
function Response:body(max)
  if not self._x.conn then return "" end
  local body, err = core.body(self._x.s, max or CLIENT_MAX_BODY)
  if not body then
    pcall(self._x.conn.close, self._x.conn)
    self._x.conn = nil
    return nil, err
  end
  done(self._x)
  return body
end

-- resp:close(): the connection is dropped (unless the body was read).
function Response:close()
  if self._x.conn then pcall(self._x.conn.close, self._x.conn) end
  self._x.conn = nil
end

-- http.request_stream{...} -> resp | nil, err: the same request, but the
-- body is read by the caller: resp.status, resp.headers, resp:read(),
-- resp:reader(), resp:body(), resp:close().
function M.request_stream(t)
  local x, err, detail = exchange(t)
  if not x then return nil, err, detail end
  return setmetatable({ status = x.status, headers = x.headers, _x = x }, Response)
end

function M.get(url, headers)
  return M.request { url = url, headers = headers }
end

-- ---- WebSocket ----------------------------------------------------------------

local function has_token(value, token)
  if type(value) ~= "string" then return false end
  for t in value:gmatch("[^,%s]+") do
    if t:lower() == token then return true end
  end
  return false
end

local WS = core.WebSocket.__index
local client_conns = setmetatable({}, { __mode = "k" })

-- ws:close([code [, reason [, timeout]]]) -> true: sends the close frame
-- (1000 by default), waits (timeout s, default 5) for the peer's, then
-- closes the connection.
function WS.close(ws, code, reason, timeout)
  WS._close_frame(ws, code, reason)
  local deadline = host.now() + (timeout or 5)
  while ws:state() ~= "closed" do
    local left = deadline - host.now()
    if left <= 0 then break end
    local data, kind = ws:recv(left)
    if data == nil and kind ~= "close" then break end
  end
  local conn = client_conns[ws]
  if conn then pcall(conn.close, conn) end
  return true
end

-- http.websocket(req, res [, options]) -> ws [, protocol] | nil, err:
-- answers the handshake (101) and returns the WebSocket.  A request that
-- is not a handshake is answered 400 (426 for another version).
-- options: protocols (a list, in our order of preference), timeout (of
-- each recv; default none), headers (more fields for the 101).
function M.websocket(req, res, options)
  options = options or {}
  local h = req.headers
  local key = h["sec-websocket-key"]
  if req.method ~= "GET" or not has_token(h.upgrade, "websocket")
    or not has_token(h.connection, "upgrade") or type(key) ~= "string" then
    res:send(400, "not a WebSocket handshake\n", { ["Content-Type"] = "text/plain" })
    return nil, "not a websocket request"
  end
  if h["sec-websocket-version"] ~= "13" then
    res:send(426, "", { ["Sec-WebSocket-Version"] = "13" })
    return nil, "unsupported version"
  end
  local accept = core.ws_accept(key)
  if not accept then
    res:send(400, "bad Sec-WebSocket-Key\n", { ["Content-Type"] = "text/plain" })
    return nil, "bad key"
  end
  local fields = { Upgrade = "websocket", ["Sec-WebSocket-Accept"] = accept }
  for k, v in pairs(options.headers or {}) do fields[k] = v end
  local chosen
  if options.protocols and h["sec-websocket-protocol"] then
    local offered = {}
    for p in h["sec-websocket-protocol"]:gmatch("[^,%s]+") do offered[p] = true end
    for _, p in ipairs(options.protocols) do
      if offered[p] then chosen = p break end
    end
    fields["Sec-WebSocket-Protocol"] = chosen
  end
  local ok, err = core.upgrade(res, fields)
  if not ok then return nil, err end
  return core.ws_new(res, false, options.timeout), chosen
end

-- http.websocket_connect(url [, options]) -> ws [, protocol] | nil, err
-- [, detail]: a client WebSocket (ws:// or wss://).  options: protocols
-- (a list), headers, timeout (connect and handshake), recv_timeout (of
-- each recv; default none), tls (host.connect's), ws_max_frame and
-- ws_max_message (1 MiB each, as a server's).
function M.websocket_connect(url, options)
  options = options or {}
  local hostname, port, target, authority, tls, ipv6 = core.url(url)
  if not hostname then error("http.websocket_connect: not a ws(s) URL: " .. tostring(url), 2) end
  local address = (ipv6 and "[" .. hostname .. "]" or hostname) .. ":" .. port
  local timeout = options.timeout or 60
  local copts = { timeout = timeout }
  if tls then copts.tls = type(options.tls) == "table" and options.tls or true end
  local conn, err, detail = host.connect(address, copts)
  if not conn then return nil, err, detail end
  conn:settimeout(timeout)
  local key = core.ws_key()
  local parts = { "GET ", target, " HTTP/1.1\r\nHost: ", authority,
    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ", key,
    "\r\nSec-WebSocket-Version: 13\r\n" }
  if options.protocols then
    parts[#parts + 1] = "Sec-WebSocket-Protocol: " .. concat(options.protocols, ", ") .. "\r\n"
  end
  for name, value in pairs(options.headers or {}) do
    parts[#parts + 1] = name .. ": " .. check_field(name, value) .. "\r\n"
  end
  parts[#parts + 1] = "\r\n"
  local ok
  ok, err = conn:send(concat(parts))
  local o = client_options
  if options.ws_max_frame or options.ws_max_message then
    o = core.options { max_head = 65536, max_headers = 200,
                       ws_max_frame = options.ws_max_frame,
                       ws_max_message = options.ws_max_message }
  end
  local s = session(conn, o, true)
  local status, headers
  if ok then
    status, headers = core.response(s, false)
    if not status then err = headers end
  end
  if status ~= 101 or headers["sec-websocket-accept"] ~= core.ws_accept(key)
    or not has_token(headers.upgrade, "websocket") then
    pcall(conn.close, conn)
    if status then return nil, "handshake failed", status end
    return nil, err
  end
  local ws = core.ws_new(s, true, options.recv_timeout)
  client_conns[ws] = conn
  return ws, headers["sec-websocket-protocol"]
end

-- ---- helpers ----------------------------------------------------------------

-- http.headers(t) -> the same fields, checked and assembled once: pass
-- it to res:send / res:start instead of a table when every response
-- carries the same fields (it costs a copy, not a check per field).
M.headers = core.fields

M.unescape = core.decode -- http.unescape(s [, plus]): percent-decoding
M.escape = core.encode   -- http.escape(s): percent-encoding

return M
