-- resp.lua: a small Redis-protocol (RESP2) server, written the obvious
-- way: one command at a time, one reply per command, in the blocking
-- style.  The fast-handler API makes that cheap: host.resp parses each
-- command in C where it arrived in the connection's buffer (a table of
-- its arguments, no waiting while more is buffered), and write() queues
-- replies that go out together, in one system call, when the handler
-- next waits for input.
--
--   host scripts/examples/resp.lua     then   redis-cli -p 4567 set k v
--                                             redis-benchmark -p 4567 -t get,set -P 16
--
-- Commands: PING, ECHO, SET, GET, DEL, EXISTS, INCR, DBSIZE, FLUSHALL,
-- CONFIG GET (answers nothing, for redis-benchmark), QUIT.  The data is
-- per worker (run it with --workers 1, or see host.shared).
local resp = require "host.resp"

local MAX_INLINE = 64 * 1024

local data = {}
local size = 0

local OK, PONG, NULL = "+OK\r\n", "+PONG\r\n", "$-1\r\n"

-- "$<length>\r\n" once per length: turning a number into text is the
-- costliest step of a GET's reply otherwise.
local heads = setmetatable({}, { __index = function(t, n)
  local h = "$" .. n .. "\r\n"
  if n < 4096 then t[n] = h end
  return h
end })
local function bulk(s) return heads[#s] .. s .. "\r\n" end
local function int(n) return ":" .. n .. "\r\n" end
local function err(msg) return "-ERR " .. msg .. "\r\n" end

local commands = {}

function commands.PING(args) return args[2] and bulk(args[2]) or PONG end
function commands.ECHO(args) return args[2] and bulk(args[2]) or err("wrong number of arguments") end

function commands.SET(args)
  local k, v = args[2], args[3]
  if not v then return err("wrong number of arguments for 'set'") end
  if data[k] == nil then size = size + 1 end
  data[k] = v
  return OK
end

function commands.GET(args)
  local v = data[args[2] or ""]
  return v and bulk(v) or NULL
end

function commands.DEL(args)
  local n = 0
  for i = 2, #args do
    if data[args[i]] ~= nil then
      data[args[i]] = nil
      size, n = size - 1, n + 1
    end
  end
  return int(n)
end

function commands.EXISTS(args)
  local n = 0
  for i = 2, #args do
    if data[args[i]] ~= nil then n = n + 1 end
  end
  return int(n)
end

function commands.INCR(args)
  local k = args[2]
  if not k then return err("wrong number of arguments for 'incr'") end
  local v = tonumber(data[k] or "0")
  if not v or math.type(v) ~= "integer" then
    return err("value is not an integer or out of range")
  end
  if data[k] == nil then size = size + 1 end
  v = v + 1
  data[k] = tostring(v)
  return int(v)
end

function commands.DBSIZE() return int(size) end

function commands.FLUSHALL()
  data, size = {}, 0
  return OK
end

function commands.CONFIG() return "*0\r\n" end

-- One command: its arguments (a RESP array of bulk strings, parsed in C
-- by host.resp where it arrived, or an inline command), or nil and why
-- the connection should end.
local function read_command(conn, st)
  local args, e = resp.read(conn, st)
  if type(args) == "table" then return args end
  if args ~= nil then return nil, "not an array" end
  if e ~= "protocol" then return nil, e end
  -- Not RESP at its first byte: an inline command (redis-cli, telnet).
  -- host.resp consumed nothing of what it could not parse.
  local first = conn:read(1)
  if first == "*" then return nil, "bad array" end
  local line, le = conn:read("until", "\r\n", MAX_INLINE)
  if not line then return nil, le end
  args = {}
  for word in (first .. line):gmatch("%S+") do args[#args + 1] = word end
  return args, nil, true
end

return function(conn)
  local st = resp.state() -- the connection's parser (its token array)
  while true do
    local args, why, inline = read_command(conn, st)
    if inline then st = resp.state() end -- the failed parse left it midway
    if not args then
      if why ~= "closed" and why ~= "reset" and why ~= "timeout" then
        conn:send(err("protocol error: " .. tostring(why)))
      end
      return
    end
    local name = args[1]
    if not commands[name] and type(name) == "string" then name = name:upper() end
    if name == "QUIT" then
      conn:send(OK)
      return
    end
    local command = commands[name]
    conn:write(command and command(args) or err("unknown command '" .. tostring(args[1]) .. "'"))
  end
end
