-- Tests for metrics.lua: host.stats() in Prometheus' text format.
-- (tests/e2e/guards_test.py scrapes it with Python's HTTP client.)
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

-- One HTTP request on a new connection; the whole reply.
local function get(address, request)
  local c = assert(host.connect(address))
  assert(c:send(request))
  local reply = assert(c:read("a"))
  c:close()
  return reply
end

-- name{labels} value -> a table, one entry per sample line (of a reply:
-- of its body).
local function samples(body)
  body = body:match("\r\n\r\n(.*)$") or body
  local t = {}
  for line in body:gmatch("[^\n]+") do
    if not line:match("^#") then
      local key, value = line:match("^(.+) (%-?%d+)$")
      assert(key, "not a sample line: " .. line)
      t[key] = tonumber(value)
    end
  end
  return t
end

describe("examples/metrics", function()
  local app, listener, render
  before_each(function()
    app, listener, render = loadhandler(here .. "metrics.lua", "127.0.0.1:0")
  end)
  after_each(function() listener:close() end)

  it("returns the application's handler (echo by default)", function()
    local l = assert(host.listen("127.0.0.1:0", app))
    local c = assert(host.connect(l.address))
    assert(c:send("ping"))
    assert.equal("ping", c:recv())
    c:close()
    l:close()
  end)

  it("answers GET /metrics in the text format, every family typed", function()
    local reply = get(listener.address, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    local head, body = reply:match("^(.-\r\n)\r\n(.*)$")
    assert.matches("^HTTP/1.1 200 OK\r\n", head)
    assert.matches("Content%-Type: text/plain; version=0.0.4", head)
    assert.equal(#body, tonumber(head:match("Content%-Length: (%d+)")))
    local typed = {}
    for name, kind in body:gmatch("# TYPE (%S+) (%S+)\n") do typed[name] = kind end
    for key in pairs(samples(body)) do
      local name = key:match("^([%w_]+){")
      assert.truthy(typed[name], "untyped: " .. key)
      if typed[name] == "counter" then assert.matches("_total$", name) end
    end
    assert.equal("gauge", typed.host_connections_open)
    assert.equal("counter", typed.host_cpu_kills_total)
  end)

  it("renders what host.stats() says, for every worker and label", function()
    local s = host.stats()
    local t = samples(render(s))
    local w = host.worker
    local function at(name, extra)
      return t[('host_%s{worker="%d"%s}'):format(name, w, extra or "")]
    end
    assert.equal(s.workers[w].connections_accepted, at("connections_accepted_total"))
    assert.equal(s.workers[w].bytes_in, at("received_bytes_total"))
    assert.equal(s.workers[w].waiting.recv, at("tasks_waiting", ',on="recv"'))
    assert.equal(s.workers[w].errors["no resources"],
      at("errors_total", ',error="no resources"'))
  end)

  it("counts the traffic of the application exactly", function()
    local function accepted()
      local t = samples(get(listener.address, "GET /metrics HTTP/1.0\r\n\r\n"))
      return t[('host_connections_accepted_total{worker="%d"}'):format(host.worker)]
    end
    local l = assert(host.listen("127.0.0.1:0", app))
    local before = accepted()
    for _ = 1, 4 do
      local c = assert(host.connect(l.address))
      assert(c:send("x"))
      assert.equal("x", c:recv())
      c:close()
    end
    -- 4 echo connections, and the scrape's own.
    assert.equal(before + 5, accepted())
    l:close()
  end)

  it("answers 404 elsewhere and 405 to other methods", function()
    assert.matches("^HTTP/1.1 404 ", get(listener.address, "GET / HTTP/1.1\r\n\r\n"))
    assert.matches("^HTTP/1.1 405 ", get(listener.address, "POST /metrics HTTP/1.1\r\n\r\n"))
  end)
end)
