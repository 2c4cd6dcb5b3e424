-- metrics.lua: serves host.stats() in Prometheus' text format on a second
-- address, beside an application.
--
--   host --listen 127.0.0.1:4567 scripts/examples/metrics.lua \
--        127.0.0.1:9100 [APP.lua [APP ARGS...]]
--
-- The application (APP.lua; by default echo.lua beside this file) serves
-- the --listen addresses as usual.  GET /metrics on the second address
-- answers with every worker's counters: each worker listens there too,
-- and whichever the kernel picks answers for all (host.stats() reads
-- every worker's).  A Prometheus job scrapes it with
--   static_configs: [{ targets: ["127.0.0.1:9100"] }]
-- The script returns the application's handler (which the host runs on
-- --listen) and, for tests, the metrics listener.
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local address, app_path = ...
address = address or "127.0.0.1:9100"

-- name, type, help, and where the value is in a worker's table.
local families = {
  { "connections_open", "gauge", "Connections open.", "connections_open" },
  { "connections_accepted_total", "counter", "Connections accepted.",
    "connections_accepted" },
  { "connections_connected_total", "counter", "Connections made by host.connect.",
    "connections_connected" },
  { "connections_closed_total", "counter", "Connections closed.",
    "connections_closed" },
  { "received_bytes_total", "counter", "Bytes received.", "bytes_in" },
  { "sent_bytes_total", "counter", "Bytes sent.", "bytes_out" },
  { "tasks", "gauge", "Live tasks.", "tasks" },
  { "tasks_ready", "gauge", "Tasks ready to run (or running).", "tasks_ready" },
  { "tasks_waiting", "gauge", "Suspended tasks, by what they wait on.",
    "waiting", "on" },
  { "errors_total", "counter", "Operations that returned nil, err, by err.",
    "errors", "error" },
  { "forced_yields_total", "counter", "Tasks paused at the end of their slice.",
    "forced_yields" },
  { "cpu_kills_total", "counter", "Tasks ended at the cpu limit.", "cpu_kills" },
  { "memory_trims_total", "counter",
    "Times the worker gave memory back after a peak.", "memory_trims" },
  { "lua_memory_bytes", "gauge", "Memory of the worker's Lua VM.", "lua_memory" },
  { "buffer_memory_bytes", "gauge", "Memory of the connections' buffers.",
    "buffer_memory" },
  { "memory_limit_bytes", "gauge", "The worker's memory limit.", "memory_limit" },
  { "timers", "gauge", "Timers posted.", "timers" },
  { "inbox_messages", "gauge", "Messages waiting in the worker's inbox.", "inbox" },
}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- host.stats() -> the text of a scrape.
local function render(stats)
  local out = {}
  for _, f in ipairs(families) do
    local name, kind, help, key, label = "host_" .. f[1], f[2], f[3], f[4], f[5]
    out[#out + 1] = ("# HELP %s %s\n# TYPE %s %s\n"):format(name, help, name, kind)
    for id = 1, stats.total.workers do
      local w = stats.workers[id]
      local v = w and w[key]
      if type(v) == "table" then
        for _, k in ipairs(sorted_keys(v)) do
          out[#out + 1] = ('%s{worker="%d",%s="%s"} %d\n'):format(name, id,
            label, k, v[k])
        end
      elseif v then
        out[#out + 1] = ('%s{worker="%d"} %d\n'):format(name, id, v)
      end
    end
  end
  return table.concat(out)
end

local function reply(conn, status, body, kind)
  conn:send("HTTP/1.1 ", status, "\r\nContent-Type: ", kind,
    "\r\nContent-Length: ", #body, "\r\nConnection: close\r\n\r\n", body)
end

-- One request per connection (Connection: close), as scrapers send.
local function serve(conn)
  conn:settimeout(5)
  local line = conn:read("l")
  if not line then return end
  repeat
    local header = conn:read("l")
  until not header or header == ""
  local method, path = line:match("^(%u+) (%S+)")
  if method ~= "GET" then
    reply(conn, "405 Method Not Allowed", "GET only\n", "text/plain")
  elseif path ~= "/metrics" then
    reply(conn, "404 Not Found", "try /metrics\n", "text/plain")
  else
    reply(conn, "200 OK", render(host.stats()),
      "text/plain; version=0.0.4; charset=utf-8")
  end
end

local listener = assert(host.listen(address, serve))
local app
if app_path then
  app = assert(loadfile(app_path))(select(3, ...))
else
  app = dofile(here .. "echo.lua")
end
return app, listener, render
