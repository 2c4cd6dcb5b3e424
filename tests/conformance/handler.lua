-- tests/conformance/handler.lua: the handler side of the conformance test.
--
--   host handler.lua PROGRAMS.lua CONTROL_ADDR
--
-- PROGRAMS.lua (written by conform.py) returns { [id] = { op, op, ... } }.
-- The script listens on two free loopback ports and prints them: the
-- main one, where each connection first sends "P <id>\n" and then gets
-- program <id> run on it, and the probe one (see probe below).
--
-- For each operation the handler talks to the driver over a control
-- connection of its own (host.connect to CONTROL_ADDR), in lockstep:
--   -> "B k"              operation k is about to start
--   <- "G k"              the peer has started its action for k
--   -> "E k secs JSON"    what the operation returned (raises caught)
-- and at the end "F", answered by "Z" once the peer has everything, after
-- which the handler returns and the host closes the connection.
local host = require "host"

local file = dofile(arg[1])
local progs = file.programs
local ctl_addr = arg[2]

-- ---- payloads ---------------------------------------------------------------
-- Send j sends a prefix of canon[j % 2] (model.py's payload(): 32-byte
-- records, the index in 8 symbols, then 24 filler symbols).
local SYMS = { "abcdefghijklmnop", "ABCDEFGHIJKLMNOP" }
local canon = { "", "" }

-- Built 256 records (8 KiB) at a time: the index's high six symbols are
-- the separator of a table.concat over the 256 records' tails.
local function build(p, nrec)
  local b = { SYMS[p + 1]:byte(1, 16) }
  local function sym(i) return string.char(b[i + 1]) end
  local fill = {}
  for r = 0, 15 do
    local t = {}
    for k = 0, 23 do t[k + 1] = sym((r + k) % 16) end
    fill[r] = table.concat(t)
  end
  local tails = {}
  for lo = 0, 255 do tails[lo + 1] = sym(lo >> 4) .. sym(lo & 15) .. fill[lo % 16] end
  local blocks = {}
  for h = 0, (nrec + 255) // 256 - 1 do
    local hi = sym(h >> 20 & 15) .. sym(h >> 16 & 15) .. sym(h >> 12 & 15) ..
      sym(h >> 8 & 15) .. sym(h >> 4 & 15) .. sym(h & 15)
    blocks[h + 1] = hi .. table.concat(tails, hi)
  end
  return table.concat(blocks)
end

local function payload(p, n)
  if #canon[p + 1] < n then
    canon[p + 1] = build(p, math.max((n + 31) // 32, 2 * #canon[p + 1] // 32))
  end
  return canon[p + 1]:sub(1, n)
end

-- Both streams as long as the longest send needs, made before serving:
-- building them later would stall every connection of the worker.
payload(0, file.maxsend)
payload(1, file.maxsend)

-- The strings of one send: the payload cut at op.cuts.
local function pieces(op)
  local s, parts, prev = payload(op.p, op.n), {}, 0
  for _, cut in ipairs(op.cuts or {}) do
    parts[#parts + 1] = s:sub(prev + 1, cut)
    prev = cut
  end
  parts[#parts + 1] = s:sub(prev + 1)
  return parts
end

-- ---- results as JSON ----------------------------------------------------------

local function jstr(s)
  return '"' .. (s:gsub('[%c"\\\128-\255]', function(ch)
    return string.format("\\u%04x", ch:byte())
  end)) .. '"'
end

local function jval(v)
  local t = type(v)
  if v == nil then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then return string.format("%.17g", v) end
  if t == "string" then return jstr(v) end
  if t == "table" then
    if v.raise then return '{"raise":' .. jstr(tostring(v.raise)) .. "}" end
    local parts = {}
    for i = 1, v.n or #v do parts[i] = jval(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  return jstr(tostring(v))
end

-- pcall's results as a list (with its length), or { raise = message }.
local function caught(ok, ...)
  if not ok then return { raise = (...) } end
  return table.pack(...)
end

-- ---- operations -----------------------------------------------------------------

local run

-- Runs fn in a task of its own; join() waits (10 s at most) for its result.
local function side(fn)
  local me, res, done, waiting = coroutine.running(), nil, false, false
  host.spawn(function()
    res = fn()
    if done then res = { raise = "the task finished twice" } end
    done = true
    if waiting then host.wakeup(me) end
  end)
  return function()
    if not done then
      waiting = true
      host.wait(10)
      waiting = false
    end
    return res or { raise = "the task did not finish" }
  end
end

local ops = {}

function ops.recv(conn, op)
  if op.max then return caught(pcall(conn.recv, conn, op.max)) end
  return caught(pcall(conn.recv, conn))
end

function ops.readn(conn, op) return caught(pcall(conn.read, conn, op.n)) end

function ops.readl(conn, op)
  if op.fmt then return caught(pcall(conn.read, conn, op.fmt)) end
  return caught(pcall(conn.read, conn))
end

function ops.reada(conn) return caught(pcall(conn.read, conn, "a")) end

-- lines() called up to k times: the lines; if it ended (returned nil),
-- then null and conn.lasterror; { raise = msg } if it raised.
function ops.lines(conn, op)
  local got = { n = 0 }
  local ok, it = pcall(conn.lines, conn)
  if not ok then return { raise = it } end
  for _ = 1, op.k do
    local ok2, line = pcall(it)
    if not ok2 then return { raise = line } end
    if line == nil then
      got[got.n + 1], got[got.n + 2], got.n = nil, conn.lasterror, got.n + 2
      return got
    end
    got.n = got.n + 1
    got[got.n] = line
  end
  return got
end

-- A send's strings are cut before its step starts (see prepare).
function ops.send(conn, op)
  local parts = op.parts or pieces(op)
  op.parts = nil
  return caught(pcall(conn.send, conn, table.unpack(parts)))
end

function ops.settimeout(conn, op)
  return caught(pcall(conn.settimeout, conn, op.t or nil))
end

function ops.setoption(conn, op)
  return caught(pcall(conn.setoption, conn, op.name, op.v))
end

function ops.sleep(_, op) return caught(pcall(host.sleep, op.s)) end

function ops.shutdown(conn) return caught(pcall(conn.shutdown, conn)) end

function ops.close(conn) return caught(pcall(conn.close, conn)) end

function ops.useclosed(conn) return caught(pcall(conn.recv, conn)) end

-- A spawned task reads while this one sends: { send's, read's }.
function ops.par(conn, op)
  local join = side(function() return run(conn, op.read) end)
  local sres = run(conn, op.send)
  return { sres, join() }
end

-- A task waits in recv; a second recv must raise: { first's, second's }.
function ops.reader2(conn)
  local join = side(function() return run(conn, { op = "recv" }) end)
  host.sleep(0)
  local second = caught(pcall(conn.recv, conn))
  return { join(), second }
end

-- A task waits in a large send; a second send must raise.
function ops.sender2(conn, op)
  local parts = op.parts
  op.parts = nil
  local join = side(function() return run(conn, { op = "send", parts = parts }) end)
  host.sleep(0)
  local second = caught(pcall(conn.send, conn, "x"))
  return { join(), second }
end

run = function(conn, op)
  local f = ops[op.op]
  if not f then return { raise = "conformance: unknown op " .. tostring(op.op) } end
  return f(conn, op)
end

-- ---- lockstep with the driver ---------------------------------------------------

local function expect(ctl, want)
  local line, err = ctl:read("l")
  if line ~= want then
    error(string.format("control: expected %q, got %s %s", want, tostring(line), tostring(err)))
  end
end

-- Cuts the strings of the step's sends, so that the time an op takes is
-- the time the host took.
local function prepare(op)
  if op.op == "send" or op.op == "sender2" then op.parts = pieces(op) end
  if op.op == "par" then op.send.parts = pieces(op.send) end
end

local function serve(conn)
  local id = (conn:read("l") or ""):match("^P (.+)$")
  local prog = id and progs[id]
  if not prog then return end
  local ctl = assert(host.connect(ctl_addr, 10))
  ctl:settimeout(120)
  assert(ctl:send("H ", id, "\n"))
  for k, op in ipairs(prog) do
    prepare(op)
    assert(ctl:send("B ", k, "\n"))
    expect(ctl, "G " .. k)
    local t0 = host.now()
    local res = run(conn, op)
    local dt = host.now() - t0
    assert(ctl:send("E ", k, " ", string.format("%.4f", dt), " ", jval(res), "\n"))
  end
  assert(ctl:send("F\n"))
  expect(ctl, "Z")
  ctl:close()
end

-- The probe listener: each connection reports its first recv() to the
-- driver ("H probe <result>"), for the cases that are about accepting
-- (a connection reset before it was accepted).
local function probe(conn)
  conn:settimeout(2)
  local res = caught(pcall(conn.recv, conn))
  local ctl = host.connect(ctl_addr, 10)
  if ctl then
    ctl:send("H probe ", jval(res), "\n")
    ctl:close()
  end
end

local main = assert(host.listen("127.0.0.1:0", serve))
local pl = assert(host.listen("127.0.0.1:0", probe))
if host.worker == 1 then
  print(main.address .. " " .. pl.address)
end
