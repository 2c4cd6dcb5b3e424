-- host.redis against a real redis-server (Debian's), started here on a
-- loopback port with no persistence, and stopped here.  Installed on
-- first use through cmake/apt-ensure.sh; skipped on Windows.
local host = require "host"
local redis = require "host.redis"
local h = require "helper"

local windows = package.config:sub(1, 1) == "\\"
local have_redis = not windows and
  (os.execute("command -v redis-server >/dev/null 2>&1") or
   os.execute("bash cmake/apt-ensure.sh redis-server >/dev/null 2>&1"))

local dir = os.tmpname()
os.remove(dir)

local function free_port()
  local l = assert(host.listen("127.0.0.1:0", function() end))
  local port = tonumber(l.address:match(":(%d+)$"))
  l:close()
  return port
end

-- A redis-server on a free port; returns {port =, addr =, stop =}.
local function start(extra, port, tls)
  port = port or free_port()
  os.execute("mkdir -p " .. dir)
  local pidfile = string.format("%s/redis-%d.pid", dir, port)
  local ports = string.format("--port %d", port)
  if tls then -- TLS only, on that port
    ports = string.format("--port 0 --tls-port %d --tls-cert-file %s/server.pem " ..
      "--tls-key-file %s/server.key --tls-ca-cert-file %s/ca.pem " ..
      "--tls-auth-clients no", port, tls, tls, tls)
  end
  local cmd = string.format(
    "redis-server %s --bind 127.0.0.1 --save '' --appendonly no " ..
    "--daemonize yes --pidfile %s --logfile %s/redis-%d.log --dir %s " ..
    "--enable-debug-command yes %s", ports, pidfile, dir, port, dir, extra or "")
  assert(os.execute(cmd), "cannot start redis-server")
  local s = { port = port, addr = "127.0.0.1:" .. port, pidfile = pidfile }
  assert(h.eventually(function()
    local c = host.connect(s.addr)
    if c then c:close() return true end
  end, 5), "redis-server did not start")
  function s.stop()
    local f = io.open(pidfile)
    local pid = f and f:read("l")
    if f then f:close() end
    if pid then os.execute("kill " .. pid) end
    h.eventually(function() return not host.connect(s.addr) end, 5)
    os.remove(pidfile)
  end
  return s
end

local function skip_unless_redis()
  if not have_redis then pending("no redis-server here") return true end
end

describe("host.redis", function()
  local srv
  setup(function() if have_redis then srv = start() end end)
  teardown(function() if srv then srv.stop() end end)

  it("call: set, get, a missing key, integers, an error reply", function()
    if skip_unless_redis() then return end
    local r = assert(redis.connect(srv.addr, { timeout = 2 }))
    assert.equal("OK", r:call("SET", "k1", "v1"))
    assert.equal("v1", r:call("GET", "k1"))
    assert.equal(redis.null, r:call("GET", "no such key"))
    assert.equal(5, r:call("INCRBY", "n1", 5))
    assert.equal("1.5", r:call("INCRBYFLOAT", "f1", 1.5))
    local v, err = r:call("INCR", "k1")
    assert.is_nil(v)
    assert.equal("ERR value is not an integer or out of range", err)
    assert.equal("PONG", r:call("PING")) -- still usable after an error reply
    local v2, err2 = r:call("NOSUCHCOMMAND")
    assert.is_nil(v2)
    assert.matches("^ERR unknown command", err2)
    r:close()
    assert.same({ nil, "closed" }, { r:call("PING") })
  end)

  it("is binary-safe", function()
    if skip_unless_redis() then return end
    local r = assert(redis.connect(srv.addr))
    local blob = "a\0b\r\nc" .. string.rep("\255\0", 5000)
    assert.equal("OK", r:call("SET", "bin\0key", blob))
    assert.equal(blob, r:call("GET", "bin\0key"))
    local big = string.rep("x", 3 * 1024 * 1024 + 7) -- larger than any buffer
    assert.equal("OK", r:call("SET", "big", big))
    assert.equal(big, r:call("GET", "big"))
    r:close()
  end)

  it("every RESP2 reply type, nested, empty and null aggregates", function()
    if skip_unless_redis() then return end
    local r = assert(redis.connect(srv.addr))
    r:call("DEL", "l")
    assert.same({}, r:call("LRANGE", "l", 0, -1))
    r:call("RPUSH", "l", "a", "b", "c")
    assert.same({ "a", "b", "c" }, r:call("LRANGE", "l", 0, -1))
    assert.equal(redis.null, r:call("BLPOP", "empty-list", 0.01)) -- *-1
    assert.equal("OK", r:call("MULTI"))
    assert.equal("QUEUED", r:call("SET", "m", "1"))
    assert.equal("QUEUED", r:call("LPUSH", "m", "x")) -- fails in EXEC
    assert.equal("QUEUED", r:call("LRANGE", "l", 0, 0))
    local res = r:call("EXEC")
    assert.equal("OK", res[1])
    assert.is_true(redis.is_error(res[2]))
    assert.matches("^WRONGTYPE", res[2].err)
    assert.matches("^WRONGTYPE", tostring(res[2]))
    assert.same({ "a" }, res[3])
    local types = {
      string = "Hello World", integer = 12345, double = 3.141,
      bignum = "1234567999999999999999999999999999999",
      verbatim = "This is a verbatim\nstring", ["true"] = 1, ["false"] = 0,
    }
    for t, want in pairs(types) do
      local got = r:call("DEBUG", "PROTOCOL", t)
      if t == "double" then
        assert.equal(want, tonumber(got))
      else
        assert.equal(want, got)
      end
    end
    assert.same({ 0, 1, 2 }, r:call("DEBUG", "PROTOCOL", "array"))
    assert.equal(redis.null, r:call("DEBUG", "PROTOCOL", "null"))
    r:close()
  end)

  it("every RESP3 reply type with protocol = 3", function()
    if skip_unless_redis() then return end
    local r = assert(redis.connect(srv.addr, { protocol = 3 }))
    local want = {
      string = "Hello World", integer = 12345, double = 3.141,
      bignum = "1234567999999999999999999999999999999",
      verbatim = "This is a verbatim\nstring", ["true"] = true,
      ["false"] = false, null = redis.null,
    }
    for t, v in pairs(want) do
      assert.equal(v, r:call("DEBUG", "PROTOCOL", t), t)
    end
    assert.same({ 0, 1, 2 }, r:call("DEBUG", "PROTOCOL", "array"))
    local set = r:call("DEBUG", "PROTOCOL", "set")
    table.sort(set)
    assert.same({ 0, 1, 2 }, set)
    assert.same({ [0] = false, [1] = true, [2] = false },
                r:call("DEBUG", "PROTOCOL", "map"))
    -- An attribute annotates a value: the value is what comes back.
    assert.equal("Some real reply following the attribute",
                 r:call("DEBUG", "PROTOCOL", "attrib"))
    r:call("DEL", "h")
    r:call("HSET", "h", "f1", "v1", "f2", "v2")
    assert.same({ f1 = "v1", f2 = "v2" }, r:call("HGETALL", "h"))
    r:call("ZADD", "z", 1.5, "m")
    assert.equal(1.5, r:call("ZSCORE", "z", "m"))
    -- A push answers no command: a call skips it and gets its reply.
    assert.equal("PONG", r:call("PING"))
    r:close()
  end)

  it("pipelines 100,000 commands", function()
    if skip_unless_redis() then return end
    local r = assert(redis.connect(srv.addr, { timeout = 10 }))
    local n = 100000
    local res = assert(r:pipeline(function(p)
      for i = 1, n do p:call("SET", "p:" .. i, i) end
    end))
    assert.equal(n, #res)
    for i = 1, n do assert(res[i] == "OK") end
    res = assert(r:pipeline(function(p)
      for i = 1, n do p:call("GET", "p:" .. i) end
      p:call("INCR", "p:1x") -- mixed with an error reply:
      p:call("LPUSH", "p:1", "x")
    end))
    assert.equal(n + 2, #res)
    for i = 1, n, 997 do assert.equal(tostring(i), res[i]) end
    assert.equal(1, res[n + 1])
    assert.is_true(redis.is_error(res[n + 2]))
    assert.same({}, r:pipeline(function() end))
    r:close()
  end)

  it("pub/sub: subscribe, next_message with a timeout, unsubscribe", function()
    if skip_unless_redis() then return end
    for _, proto in ipairs({ 2, 3 }) do
      local sub = assert(redis.connect(srv.addr, { protocol = proto }))
      local pub = assert(redis.connect(srv.addr))
      assert(sub:subscribe("news", "sport"))
      assert.equal(2, sub.channels)
      local t0 = host.now()
      assert.same({ nil, "timeout" }, { sub:next_message(0.05) })
      assert.truthy(host.now() - t0 < 1)
      assert.equal(1, pub:call("PUBLISH", "news", "hello\0there"))
      local m = assert(sub:next_message(2))
      assert.same({ kind = "message", channel = "news", payload = "hello\0there" }, m)
      assert.error_matches(function() sub:call("GET", "x") end, "subscribed")
      assert(sub:psubscribe("s*"))
      pub:call("PUBLISH", "sport", "goal")
      local got = { assert(sub:next_message(2)), assert(sub:next_message(2)) }
      table.sort(got, function(a, b) return a.kind < b.kind end)
      assert.equal("message", got[1].kind)
      assert.equal("pmessage", got[2].kind)
      assert.equal("s*", got[2].pattern)
      assert(sub:unsubscribe())
      assert(sub:punsubscribe())
      assert.is_false(sub.subscribed)
      assert.equal("PONG", sub:call("PING"))
      sub:close()
      pub:close()
    end
  end)

  it("a pool shares at most size connections among tasks", function()
    if skip_unless_redis() then return end
    local pool = redis.pool(srv.addr, { size = 2 })
    assert.equal(pool, redis.pool(srv.addr, { size = 2 }))
    local done, maxopen = 0, 0
    local me = coroutine.running()
    for i = 1, 10 do
      host.spawn(function()
        for j = 1, 20 do
          assert.equal("OK", pool:call("SET", "pool:" .. i, j))
          maxopen = math.max(maxopen, pool.open)
        end
        assert.equal("20", pool:call("GET", "pool:" .. i))
        done = done + 1
        if done == 10 then host.wakeup(me) end
      end)
    end
    if done < 10 then host.wait(5) end
    assert.equal(10, done)
    assert.truthy(maxopen <= 2)
    local res = pool:with(function(r)
      r:call("SET", "w", "1")
      return r:call("GET", "w")
    end)
    assert.equal("1", res)
    assert.same({ "1" }, pool:pipeline(function(p) p:call("GET", "w") end))
    pool:close()
  end)
end)

describe("host.redis failures", function()
  it("a wrong password, no password, the right one", function()
    if skip_unless_redis() then return end
    local s = start("--requirepass s3cret")
    local r, err = redis.connect(s.addr, { password = "wrong" })
    assert.is_nil(r)
    assert.matches("^WRONGPASS", err)
    r, err = redis.connect(s.addr, { password = "wrong", protocol = 3 })
    assert.is_nil(r)
    assert.matches("^WRONGPASS", err)
    r = assert(redis.connect(s.addr))
    local v, e = r:call("GET", "x")
    assert.is_nil(v)
    assert.matches("^NOAUTH", e)
    r:close()
    r = assert(redis.connect(s.addr, { password = "s3cret", db = 3 }))
    assert.equal("PONG", r:call("PING"))
    r:close()
    r = assert(redis.connect(s.addr, { password = "s3cret", protocol = 3 }))
    assert.equal("PONG", r:call("PING"))
    r:close()
    s.stop()
  end)

  it("a server restart while in use: clear errors, then the pool reconnects", function()
    if skip_unless_redis() then return end
    local s = start()
    local r = assert(redis.connect(s.addr))
    local pool = redis.pool(s.addr, { size = 4 })
    assert.equal("OK", pool:call("SET", "a", "1"))
    s.stop()
    local v, err = r:call("GET", "a")
    assert.is_nil(v)
    assert.truthy(err == "closed" or err == "reset", err)
    assert.is_true(r:closed())
    assert.same({ nil, "closed" }, { r:call("GET", "a") })
    v, err = pool:call("GET", "a")
    assert.is_nil(v)
    assert.equal("refused", err)
    s = start(nil, s.port)
    -- The pool's idle connection is dead: replaced at once, no error.
    assert.equal(redis.null, pool:call("GET", "a"))
    assert.equal("OK", pool:call("SET", "a", "2"))
    assert.equal("2", pool:call("GET", "a"))
    pool:close()
    s.stop()
  end)

  it("a stalled server: timeouts, and the connection is closed", function()
    if skip_unless_redis() then return end
    local silent = h.serve(function(conn)
      conn:read("a") -- reads and never answers
    end)
    local r = assert(redis.connect(silent.address, { timeout = 0.1 }))
    local t0 = host.now()
    assert.same({ nil, "timeout" }, { r:call("PING") })
    assert.truthy(host.now() - t0 < 1)
    assert.is_true(r:closed())
    silent:close()
    -- A real one, busy: DEBUG SLEEP outlasts the timeout.
    local s = start()
    r = assert(redis.connect(s.addr, { timeout = 0.1 }))
    assert.same({ nil, "timeout" }, { r:call("DEBUG", "SLEEP", 0.5) })
    r = assert(redis.connect(s.addr, { timeout = 2 }))
    assert.equal("PONG", r:call("PING"))
    r:close()
    s.stop()
  end)

  it("garbage from the server is a protocol error", function()
    local bad = h.serve(function(conn)
      conn:read("l")
      conn:send("?what\r\n")
      conn:read("a")
    end)
    local r = assert(redis.connect(bad.address, { timeout = 2 }))
    local v, err, detail = r:call("PING")
    assert.is_nil(v)
    assert.equal("protocol", err)
    assert.truthy(detail)
    assert.is_true(r:closed())
    bad:close()
  end)

  it("over TLS, verified", function()
    if skip_unless_redis() then return end
    local certs = os.getenv("HOST_TEST_CERTS")
    if not certs then return pending("HOST_TEST_CERTS not set") end
    local s = start(nil, nil, certs)
    local r = assert(redis.connect(s.addr, { tls = { ca = certs .. "/ca.pem",
                                                     servername = "localhost" } }))
    assert.equal("OK", r:call("SET", "tls", "yes"))
    assert.equal("yes", r:call("GET", "tls"))
    r:close()
    local bad, err = redis.connect(s.addr, { tls = true }) -- unknown CA
    assert.is_nil(bad)
    assert.equal("tls", err)
    s.stop()
  end)

  it("refused, and bad arguments raise", function()
    local r, err = redis.connect("127.0.0.1:" .. free_port())
    assert.is_nil(r)
    assert.equal("refused", err)
    local l = h.serve(function(conn) conn:read("a") end)
    r = assert(redis.connect(l.address))
    assert.error_matches(function() r:call("SET", "k", {}) end, "string or number")
    assert.error_matches(function() r:call() end, "a command")
    r:close()
    l:close()
  end)
end)
