-- Helpers for the host.http tests: raw connections that speak HTTP by
-- hand (so the tests see exactly what the server sends), a response
-- reader, and a server on a free port.
local host = require "host"
local http = require "host.http"

local M = {}

-- A server on a free loopback port; closed by the caller.
function M.serve(handler, options)
  return assert(http.listen("127.0.0.1:0", handler, options))
end

-- A raw connection to srv, with a timeout.
function M.connect(srv, timeout)
  local c = assert(host.connect(srv.address))
  c:settimeout(timeout or 5)
  return c
end

-- Reads one response from conn: {status =, reason =, version =,
-- headers = {lower-case name = value (repeated: joined with ", ")},
-- body =, closed = true if the body ran to the close}; nil, err if the
-- connection ended first.  to_head: the request was HEAD.
function M.read_response(conn, to_head)
  local line, err = conn:read("l")
  if not line then return nil, err end
  local version, status, reason = line:match("^HTTP/(%d%.%d) (%d%d%d) ?(.*)$")
  if not version then return nil, "bad status line: " .. line end
  local r = { status = tonumber(status), reason = reason, version = version,
              headers = {}, fields = {} }
  while true do
    line, err = conn:read("l")
    if not line then return nil, err end
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    name = name:lower()
    r.fields[#r.fields + 1] = name
    r.headers[name] = r.headers[name] and r.headers[name] .. ", " .. value or value
  end
  local h = r.headers
  if to_head or r.status == 204 or r.status == 304 or r.status < 200 then
    r.body = ""
  elseif h["transfer-encoding"] == "chunked" then
    local parts = {}
    while true do
      line, err = conn:read("l")
      if not line then return nil, err end
      local size = tonumber(line:match("^%x+"), 16)
      if size == 0 then
        assert(conn:read("l") == "")
        break
      end
      parts[#parts + 1] = conn:read(size)
      assert(conn:read("l") == "")
    end
    r.body = table.concat(parts)
    r.chunked = true
  elseif h["content-length"] then
    r.body = conn:read(tonumber(h["content-length"]))
  else
    r.body = conn:read("a") or ""
    r.closed = true
  end
  return r
end

-- Sends text on a fresh connection and reads one response.
function M.exchange(srv, text, to_head)
  local c = M.connect(srv)
  assert(c:send(text))
  local r, err = M.read_response(c, to_head)
  return r, err, c
end

-- True once the peer closed conn (a read returns nil, "closed" within
-- `seconds`).
function M.closed(conn, seconds)
  conn:settimeout(seconds or 3)
  while true do
    local data, err = conn:recv()
    if not data then return err == "closed" or err == "reset", err end
  end
end

-- A listener whose handler reads and never answers (until closed).
function M.accepting_raw()
  return assert(host.listen("127.0.0.1:0", function(conn)
    while conn:recv() do end
  end))
end

function M.get(path, extra)
  return "GET " .. path .. " HTTP/1.1\r\nHost: t\r\n" .. (extra or "") .. "\r\n"
end

return M
