-- host_http_bench.lua: the host's side of bench/http.  Without arguments,
-- scripts/examples/http_hello.lua's answer; with "gateway PORT", each
-- request makes one round trip (64 bytes out, 64 back) to a TCP backend on
-- 127.0.0.1:PORT over a connection from a pool (host.connect when the pool
-- is empty) and answers with what came back; with "ws", a WebSocket echo.
--
--   host --workers 1 bench/peers/host_http_bench.lua [gateway PORT | ws]
local host = require "host"
local http = require "host.http"

local mode, port = ...
local TEXT = http.headers { ["Content-Type"] = "text/plain" }

if mode == "ws" then
  return http.server(function(req, res)
    local ws = http.websocket(req, res)
    if not ws then return end
    while true do
      local data, kind = ws:recv()
      if not data or kind == "close" then return end
      ws:send(data, kind)
    end
  end)
end

if mode == "gateway" then
  local backend = "127.0.0.1:" .. assert(tonumber(port), "gateway needs a port")
  local MSG = string.rep("x", 63) .. "\n"
  local pool = {}
  return http.server(function(req, res)
    local c = table.remove(pool)
    if not c then c = assert(host.connect(backend)) end
    local ok = c:send(MSG)
    local reply = ok and c:read(#MSG)
    if not reply then
      c:close()
      return res:send(502, "backend failed\n", TEXT)
    end
    pool[#pool + 1] = c
    res:send(200, reply, TEXT)
  end)
end

return http.server(function(req, res)
  res:send(200, "hello, world\n", TEXT)
end)
