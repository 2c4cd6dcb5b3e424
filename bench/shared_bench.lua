-- bench/shared_bench.lua: get and set per second on host.shared from Lua,
-- beside a plain Lua table, in every worker at once.  bench/shared runs it;
-- by hand:
--
--   host --workers N bench/shared_bench.lua dict|table get|set KEYS OPS
--
-- 16-byte keys, 32-byte values, keys drawn at random from KEYS preloaded
-- ones (the load of bench/shdict_bench.c and bench/peers/openresty_*).
-- Every worker runs OPS operations, starting together (a barrier in a
-- dictionary); worker 1 prints one line:
--
--   RESULT kind=dict op=get workers=2 ops=4000000 wall_ns_op=... ops_s=...
--
-- wall_ns_op is the slowest worker's time over all workers' operations,
-- so ops_s is the throughput of all of them together; cpu_ns_op is the
-- process's CPU time over them (os.clock: one worker's only when there is
-- one; a machine shared with other work changes it less than wall time).
-- The loop alone (drawing the key) is timed too and reported as loop_ns.
local host = require "host"

local kind, op = arg[1] or "dict", arg[2] or "get"
local nkeys, nops = tonumber(arg[3] or 100000), tonumber(arg[4] or 2000000)
local sync = host.shared("bench.sync", 1)

local keys = {}
for i = 1, nkeys do keys[i] = string.format("key:%012x", i) end
local val = string.rep("v", 32)

local store
if kind == "dict" then
  store = host.shared("bench", 64)
  if host.worker == 1 then
    for i = 1, nkeys do store:set(keys[i], val) end
  end
else
  store = {}
  for i = 1, nkeys do store[keys[i]] = val end
end

-- Everyone loaded: then go together.
local function barrier(name)
  sync:incr(name, 1, 0)
  while sync:get(name) < host.workers do host.sleep(0.001) end
end
barrier("loaded")

local random = math.random
local t0, c0 = host.now(), os.clock()
if kind == "dict" and op == "get" then
  for _ = 1, nops do local _ = store:get(keys[random(nkeys)]) end
elseif kind == "dict" then
  for _ = 1, nops do store:set(keys[random(nkeys)], val) end
elseif op == "get" then
  for _ = 1, nops do local _ = store[keys[random(nkeys)]] end
else
  for _ = 1, nops do store[keys[random(nkeys)]] = val end
end
local wall, cpu = host.now() - t0, os.clock() - c0

local l0 = host.now()
for _ = 1, nops do local _ = keys[random(nkeys)] end
local loop = host.now() - l0

if host.worker ~= 1 then
  host.post(1, wall, loop, cpu)
  return
end
local worst, loops, cpus = wall, loop, cpu
for _ = 2, host.workers do
  local _, w, l, c = assert(host.receive(60))
  worst = math.max(worst, w)
  loops = loops + l
  cpus = math.max(cpus, c) -- each saw the whole process's CPU
end
local total = nops * host.workers
print(string.format(
  "RESULT kind=%s op=%s workers=%d keys=%d ops=%d wall_ns_op=%.1f ops_s=%.0f cpu_ns_op=%.1f loop_ns=%.1f",
  kind, op, host.workers, nkeys, total, worst * 1e9 / total, total / worst,
  cpus * 1e9 / total, loops * 1e9 / total))
