-- host.redis: a Redis client on host connections.
--
--   local redis = require "host.redis"
--   local r = assert(redis.connect("127.0.0.1:6379", {timeout = 2}))
--   assert(r:call("SET", "k", "v"))
--   local v = r:call("GET", "k")                -- "v"; redis.null if absent
--   local res = r:pipeline(function(p)
--     p:call("INCR", "n"); p:call("GET", "n")
--   end)                                        -- {1, "1"}
--   r:close()
--
--   local pool = redis.pool("127.0.0.1:6379", {size = 8})   -- per worker
--   local v, err = pool:call("GET", "k")
--
-- Errors: a reply that is an error returns nil, "ERR message" (Redis'
-- own text); a failure of the connection returns nil, err with the host's
-- words ("closed", "reset", "timeout", "refused", "protocol"...), and
-- the connection is closed then (its next call returns nil, "closed"): a
-- reply that came late would answer the wrong call.  A pool replaces
-- such connections by itself.  Misuse raises.
--
-- The codec is C (`host.resp`, src/lua/lresp.c): commands are encoded
-- into the connection's output queue and replies parsed where they
-- arrived, so a call costs one write and one read system call, and a
-- pipeline of any length one write per 64 KiB.
local host = require "host"
local resp = require "host.resp"

local M = {
  null = resp.null, -- every null reply (also nil inside arrays)
}
local ERROR = resp.error

-- An error reply inside an aggregate or a pipeline: {err = "ERR ..."}.
function M.is_error(v)
  return getmetatable(v) == ERROR
end

local FLUSH_AT = 65536 -- queued bytes that a pipeline sends before going on

local Redis = {}
Redis.__index = Redis
Redis.__name = "host.redis"

function Redis:__tostring()
  return "host.redis (" .. self.addr .. (self.conn and "" or ", closed") .. ")"
end

local function checkopen(self)
  if getmetatable(self) ~= Redis then
    error("bad self (a host.redis connection expected)", 3)
  end
  return self.conn
end

-- The connection failed: close it; nil, err [, detail].
local function broken(self, err, detail)
  if self.conn then
    self.conn:close()
    self.conn = nil
  end
  return nil, err, detail
end

-- One reply: value | nil, redis message | nil, err (connection closed).
local function reply(self)
  local v, a, b = resp.read(self.conn, self.state)
  if v ~= nil then return v end
  if b == "redis" then return nil, a end
  return broken(self, a, b)
end

function Redis:call(...)
  local conn = checkopen(self)
  if self.subscribed then
    error("call on a subscribed connection (use next_message, unsubscribe)", 2)
  end
  if not conn then return nil, "closed" end
  local n, err = resp.write(conn, ...)
  if not n then return broken(self, err) end
  return reply(self)
end

-- r:pipeline(function(p) p:call(...) ... end) -> {reply, ...}, with an
-- error reply as an error value (redis.is_error(v), v.err).
local Pipe = {}
Pipe.__index = Pipe

function Pipe:call(...)
  local r = self.r
  if self.err then return nil, self.err end
  local n, err = resp.write(r.conn, ...)
  if n and n > FLUSH_AT then n, err = r.conn:flush() end
  if not n then self.err = err return nil, err end
  self.n = self.n + 1
  return true
end

function Redis:pipeline(fn)
  local conn = checkopen(self)
  if self.subscribed then error("pipeline on a subscribed connection", 2) end
  if not conn then return nil, "closed" end
  local p = setmetatable({ r = self, n = 0 }, Pipe)
  fn(p)
  if p.err then return broken(self, p.err) end
  if p.n == 0 then return {} end
  local t, err, detail = resp.read_many(conn, self.state, p.n, {})
  if not t then return broken(self, err, detail) end
  return t
end

-- ---- pub/sub ---------------------------------------------------------------

-- Reads confirmations of `kind` until `count` have come; messages that
-- arrive meanwhile are kept for next_message (up to 1000).
local function confirm(self, kind, count)
  while count > 0 do
    local v, err, detail = resp.read(self.conn, self.state, true)
    if v == nil then
      if detail == "redis" then return nil, err end
      return broken(self, err, detail)
    end
    if type(v) == "table" and v[1] == kind then
      local names = kind:sub(-10) == "psubscribe" and self.patterns or self.chans
      names[v[2]] = kind:sub(1, 5) ~= "punsu" and kind:sub(1, 5) ~= "unsub" or nil
      self.channels = v[3]
      count = count - 1
    elseif #self.queued < 1000 then
      self.queued[#self.queued + 1] = v
    end
  end
  self.subscribed = self.channels > 0
  return true
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function subscribe(self, cmd, ...)
  local conn = checkopen(self)
  if not conn then return nil, "closed" end
  local n = select("#", ...)
  assert(n > 0, "at least one channel")
  local ok, err = resp.write(conn, cmd, ...)
  if not ok then return broken(self, err) end
  self.subscribed = true
  return confirm(self, cmd:lower(), n)
end

function Redis:subscribe(...) return subscribe(self, "SUBSCRIBE", ...) end
function Redis:psubscribe(...) return subscribe(self, "PSUBSCRIBE", ...) end

-- Unsubscribes from the given channels (every one if none); the
-- connection takes calls again once it has no subscription left.
local function unsubscribe(self, cmd, names, ...)
  local conn = checkopen(self)
  if not conn then return nil, "closed" end
  local ok, err = resp.write(conn, cmd, ...)
  if not ok then return broken(self, err) end
  local n = select("#", ...)
  if n == 0 then n = math.max(count(names), 1) end
  return confirm(self, cmd:lower(), n)
end

function Redis:unsubscribe(...)
  return unsubscribe(self, "UNSUBSCRIBE", self.chans, ...)
end
function Redis:punsubscribe(...)
  return unsubscribe(self, "PUNSUBSCRIBE", self.patterns, ...)
end

local function message(v)
  if type(v) ~= "table" then return nil end
  if v[1] == "message" then
    return { kind = "message", channel = v[2], payload = v[3] }
  elseif v[1] == "pmessage" then
    return { kind = "pmessage", pattern = v[2], channel = v[3], payload = v[4] }
  end
  return { kind = v[1], channel = v[2], count = v[3] }
end

-- The next message on a subscribed connection: {kind = "message",
-- channel =, payload =} (or "pmessage" with pattern), or nil, "timeout"
-- after `timeout` seconds (the connection stays usable: nothing is lost).
function Redis:next_message(timeout)
  local conn = checkopen(self)
  if not conn then return nil, "closed" end
  if not self.subscribed then error("next_message without subscribe", 2) end
  if #self.queued > 0 then
    return message(table.remove(self.queued, 1))
  end
  conn:settimeout(timeout)
  local v, err, detail = resp.read(conn, self.state, true)
  conn:settimeout(self.timeout)
  if v == nil then
    if err == "timeout" then return nil, "timeout" end
    if detail == "redis" then return nil, err end
    return broken(self, err, detail)
  end
  return message(v)
end

function Redis:close()
  if self.conn then
    self.conn:close()
    self.conn = nil
  end
  return true
end

Redis.__close = Redis.close

function Redis:closed()
  return self.conn == nil
end

-- ---- connecting -------------------------------------------------------------

-- redis.connect(address [, {timeout =, password =, user =, db =, tls =,
-- protocol = 2 | 3}]) -> connection | nil, err
function M.connect(addr, opts)
  opts = opts or {}
  assert(type(addr) == "string", "address expected")
  local conn, err, detail = host.connect(addr, { timeout = opts.timeout, tls = opts.tls })
  if not conn then return nil, err, detail end
  if opts.timeout then conn:settimeout(opts.timeout) end
  local self = setmetatable({ conn = conn, state = resp.state(), addr = addr,
                              timeout = opts.timeout, channels = 0,
                              chans = {}, patterns = {}, queued = {} }, Redis)
  local ok, e
  if opts.protocol == 3 then
    if opts.password then
      ok, e = self:call("HELLO", 3, "AUTH", opts.user or "default", opts.password)
    else
      ok, e = self:call("HELLO", 3)
    end
  elseif opts.password then
    if opts.user then
      ok, e = self:call("AUTH", opts.user, opts.password)
    else
      ok, e = self:call("AUTH", opts.password)
    end
  else
    ok = true
  end
  if ok and opts.db then ok, e = self:call("SELECT", opts.db) end
  if not ok then
    self:close()
    return nil, e
  end
  return self
end

-- ---- the pool ---------------------------------------------------------------

local Pool = {}
Pool.__index = Pool
Pool.__name = "host.redis.pool"

local pools = {} -- this worker's, by address and options

-- A connection: an idle one, a new one while fewer than size are open,
-- else waits (the pool's timeout, default 5 s) for one to come back.
function Pool:get()
  while true do
    local r = table.remove(self.idle)
    if r then
      if r.conn then return r, true end
      self.open = self.open - 1
    elseif self.open < self.size then
      self.open = self.open + 1
      local c, err, detail = M.connect(self.addr, self.opts)
      if not c then
        self.open = self.open - 1
        self:_wake()
        return nil, err, detail
      end
      return c, false
    else
      local me = coroutine.running()
      self.waiters[#self.waiters + 1] = me
      local ok = host.wait(self.wait_timeout)
      for i, w in ipairs(self.waiters) do
        if w == me then table.remove(self.waiters, i) break end
      end
      if not ok then return nil, "timeout" end
    end
  end
end

function Pool:_wake()
  local w = table.remove(self.waiters, 1)
  if w then host.wakeup(w, true) end
end

-- Gives r back: kept if it is healthy and in the default state, else
-- closed (and its place freed).
function Pool:put(r)
  if r.conn and not r.subscribed and #self.idle < self.size then
    self.idle[#self.idle + 1] = r
  else
    r:close()
    self.open = self.open - 1
  end
  self:_wake()
end

-- Runs fn(r) with a connection of the pool; what fn returns.  A
-- connection that had been idle and turns out dead (the server
-- restarted) is replaced once, so a restart costs no error.
local function run(self, r, fn, ...)
  local res = table.pack(pcall(fn, r, ...))
  if not res[1] then -- fn raised: this connection's state is unknown
    r:close()
    self:put(r)
    error(res[2], 0)
  end
  return res
end

local function with(self, fn, ...)
  local r, reused, detail = self:get()
  if not r then return nil, reused, detail end
  local res = run(self, r, fn, ...)
  if res[2] == nil and reused and r.conn == nil and
     (res[3] == "closed" or res[3] == "reset") then
    self:put(r)
    r, reused, detail = self:get()
    if not r then return nil, reused, detail end
    res = run(self, r, fn, ...)
  end
  self:put(r)
  return table.unpack(res, 2, res.n)
end

local function do_call(r, ...) return r:call(...) end
local function do_pipeline(r, fn) return r:pipeline(fn) end

function Pool:call(...) return with(self, do_call, ...) end
function Pool:pipeline(fn) return with(self, do_pipeline, fn) end
-- pool:with(function(r) ... end): several calls on one connection.
function Pool:with(fn) return with(self, fn) end

function Pool:close()
  for _, r in ipairs(self.idle) do r:close() end
  self.open = self.open - #self.idle
  self.idle = {}
  pools[self.key] = nil
end

local function key_of(addr, opts)
  local keys = {}
  for k, v in pairs(opts) do
    if type(v) ~= "table" then keys[#keys + 1] = k .. "=" .. tostring(v) end
  end
  table.sort(keys)
  return addr .. "|" .. table.concat(keys, "|")
end

-- redis.pool(address [, {size = 16, wait = 5, and connect's options}]):
-- this worker's pool for that address and options (the same one each
-- time: handlers share its connections).
function M.pool(addr, opts)
  opts = opts or {}
  local key = key_of(addr, opts)
  local p = pools[key]
  if p then return p end
  local size = opts.size or 16
  assert(math.type(size) == "integer" and size >= 1, "size must be a positive integer")
  p = setmetatable({ addr = addr, opts = opts, size = size, open = 0,
                     idle = {}, waiters = {}, key = key,
                     wait_timeout = opts.wait or 5 }, Pool)
  pools[key] = p
  return p
end

return M
