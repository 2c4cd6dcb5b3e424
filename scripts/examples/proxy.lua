-- proxy.lua: forwards every connection to an upstream server, both ways.
--
--   host scripts/examples/proxy.lua 127.0.0.1:6379
--
-- listens on --listen (default 127.0.0.1:4567) and relays each client to
-- the upstream address given as the script's argument.  Each direction
-- runs in its own task; when one side finishes sending, the other side
-- is told with shutdown(), so half-closed protocols keep working.
local host = require "host"

local upstream_address = host.arg[1] or "127.0.0.1:6379"
local CONNECT_TIMEOUT = 5

-- Copies from -> to until `from` has nothing more; then ends `to`'s
-- sending side so its reader sees end of stream.
local function pump(from, to)
  while true do
    local data = from:recv()
    if not data then break end
    if not to:send(data) then break end
  end
  to:shutdown()
end

return function(client)
  local upstream, err = host.connect(upstream_address, CONNECT_TIMEOUT)
  if not upstream then
    host.log("warn", "proxy: cannot reach", upstream_address, err)
    return -- returning closes the client
  end
  local me, back_done = coroutine.running(), false
  host.spawn(function()
    pump(upstream, client)
    back_done = true
    host.wakeup(me)
  end)
  pump(client, upstream)
  if not back_done then host.wait() end
  upstream:close()
end
