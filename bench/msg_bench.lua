-- bench/msg_bench.lua: messages between two workers.  bench/shared runs
-- it; by hand:
--
--   host --workers 2 bench/msg_bench.lua rate N [SIZE]
--   host --workers 2 bench/msg_bench.lua latency N [INTERVAL_S]
--
-- rate: worker 1 posts N messages (a string of SIZE bytes, default 8) to
-- worker 2 as fast as it can (on "full" it yields and tries again);
-- worker 2 receives them.  Messages per second are counted on the
-- receiver, from its first message to its last.
--
-- latency: worker 1 posts N messages, one every INTERVAL_S (default
-- 0.001), each carrying host.now() (one monotonic clock for the whole
-- process); worker 2 takes the difference when it receives each.  A low
-- rate: each message finds the receiver asleep and must wake it.
--
-- Worker 2 prints one line:
--   RESULT mode=rate msgs=... secs=... msgs_s=... fulls=...
--   RESULT mode=latency msgs=... p50_us=... p99_us=... max_us=...
local host = require "host"

local mode, n = arg[1] or "rate", tonumber(arg[2] or 1000000)
assert(host.workers == 2, "run with --workers 2")

if mode == "rate" then
  local size = tonumber(arg[3] or 8)
  if host.worker == 1 then
    local msg, fulls = string.rep("m", size), 0
    host.receive() -- worker 2 is ready
    for _ = 1, n do
      while not host.post(2, msg) do
        fulls = fulls + 1
        host.sleep(0)
      end
    end
    host.post(2, "fulls", fulls)
    return
  end
  host.post(1, "ready")
  local _, first = host.receive()
  local t0, got = host.now(), 1
  while got < n do
    host.receive()
    got = got + 1
  end
  local secs = host.now() - t0
  local _, _, fulls = host.receive()
  print(string.format("RESULT mode=rate size=%d msgs=%d secs=%.3f msgs_s=%.0f fulls=%d",
                      #first, n, secs, (n - 1) / secs, fulls))
else
  local interval = tonumber(arg[3] or 0.001)
  if host.worker == 1 then
    host.receive() -- worker 2 is ready
    for _ = 1, n do
      host.sleep(interval)
      assert(host.post(2, host.now()))
    end
    return
  end
  host.post(1, "ready")
  local lat = {}
  for i = 1, n do
    local _, sent = host.receive()
    lat[i] = host.now() - sent
  end
  table.sort(lat)
  local function pct(p) return lat[math.max(1, math.ceil(#lat * p))] * 1e6 end
  print(string.format("RESULT mode=latency msgs=%d p50_us=%.1f p99_us=%.1f max_us=%.1f",
                      n, pct(0.5), pct(0.99), lat[#lat] * 1e6))
end
