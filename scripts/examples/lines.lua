-- lines.lua: a small line protocol, one command per line.
--
--   PING            -> PONG
--   ECHO <text>     -> <text>
--   UPPER <text>    -> <TEXT>
--   COUNT           -> how many commands this connection has sent
--   QUIT            -> BYE, then the server closes
--
-- Unknown commands get "ERR unknown command"; a line over 1 KiB gets
-- "ERR line too long" and the connection is closed; a client silent for
-- 30 s is disconnected.  Try it: host scripts/examples/lines.lua, then
-- `nc 127.0.0.1 4567`.
local MAX_LINE = 1024
local IDLE = 30

local commands = {}

function commands.PING() return "PONG" end
function commands.ECHO(arg) return arg end
function commands.UPPER(arg) return arg:upper() end
function commands.COUNT(_, state) return tostring(state.count) end

return function(conn)
  conn:setoption("maxline", MAX_LINE)
  conn:settimeout(IDLE)
  local state = { count = 0 }
  while true do
    local line, err = conn:read("l")
    if not line then
      if err == "too long" then conn:send("ERR line too long\r\n") end
      return
    end
    state.count = state.count + 1
    local name, arg = line:match("^(%S+)%s?(.*)$")
    name = name and name:upper()
    if name == "QUIT" then
      conn:send("BYE\r\n")
      return
    end
    local command = commands[name]
    local reply = command and command(arg, state) or "ERR unknown command"
    if not conn:send(reply, "\r\n") then return end
  end
end
