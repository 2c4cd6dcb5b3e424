-- bench/peers/redis_client.lua ADDR N DEPTH: GET and SET through
-- host.redis on one connection from one worker, as redis-benchmark -c 1
-- [-P DEPTH] does them (the same key and 3-byte value), after an
-- untimed twentieth as warm-up; prints
-- redis-benchmark's own line format, "SET: N requests per second".
local host = require "host"
local redis = require "host.redis"

local addr, n, depth = ...
n, depth = tonumber(n), tonumber(depth or 1)
local r = assert(redis.connect(addr))

local function loop(n, ...)
  if depth == 1 then
    for _ = 1, n do
      assert(r:call(...))
    end
  else
    local args = table.pack(...)
    local batch = function(p)
      for _ = 1, depth do p:call(table.unpack(args, 1, args.n)) end
    end
    for _ = 1, n // depth do
      assert(r:pipeline(batch))
    end
  end
end

-- A short untimed run first: the VM's allocator and collector settle.
local function run(name, ...)
  loop(n // 20, ...)
  local t0 = host.now()
  loop(n, ...)
  local dt = host.now() - t0
  print(string.format("%s: %.2f requests per second", name, n / dt))
end

run("SET", "SET", "key:__rand_int__", "xxx")
run("GET", "GET", "key:__rand_int__")
r:close()
