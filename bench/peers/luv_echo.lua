-- luv_echo.lua: a plain libuv echo server written in Lua, a peer in the
-- benchmark matrix: what "Lua on an event loop" costs without the host.
--
-- Usage: lua5.4 luv_echo.lua PORT     (Debian packages lua5.4, lua-luv)
--
-- One loop, one thread: each accepted connection starts reading and writes
-- every chunk back as it arrives, the way a libuv user would write it. Like
-- every server in bench/ it sets TCP_NODELAY, listens on 127.0.0.1 only,
-- prints nothing on stdout, and exits cleanly on SIGINT or SIGTERM.
local uv = require("luv")

local port = tonumber(arg[1])
if not port or port < 1 or port > 65535 or port % 1 ~= 0 then
  io.stderr:write("usage: lua5.4 luv_echo.lua PORT\n")
  os.exit(2)
end

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", port))

local function on_connection(err)
  if err then
    io.stderr:write("luv_echo: accept: ", err, "\n")
    return
  end
  local client = uv.new_tcp()
  if not server:accept(client) then
    client:close()
    return
  end
  client:nodelay(true)
  client:read_start(function(rerr, data)
    if rerr or not data then          -- error or end of stream
      client:close()
    else
      client:write(data)
    end
  end)
end

assert(server:listen(4096, on_connection))

local function stop()
  server:close()
  uv.stop()
end
for _, name in ipairs({ "sigint", "sigterm" }) do
  local sig = uv.new_signal()
  sig:start(name, stop)
  sig:unref()                         -- signals alone do not keep us alive
end

uv.run()
