-- host.test: the script-level test harness behind `host test`.
--
-- Busted's shape and names: describe / it / before_each / after_each /
-- setup / teardown / pending, and luassert-style assertions
-- (assert.equal, assert.same, assert.truthy, assert.falsy, assert.error,
-- with the is / are / is_not / has_no modifiers).  Each `it` runs in its
-- own task, so a test can host.listen("127.0.0.1:0", handler) and drive
-- it with host.connect; one that has not finished in `M.timeout` seconds
-- (10) fails.  Output is TAP-like: "ok N - name" / "not ok N - name" with
-- the failure and its traceback, then "N passed, N failed".

local host = require "host"

-- HOST_TEST_TIMEOUT changes the limit (the host's own tests use it to
-- check the limit without waiting 10 s).
local M = { timeout = tonumber(os.getenv("HOST_TEST_TIMEOUT")) or 10 }

local THIS = debug.getinfo(1, "S").source
local PENDING = {}    -- metatable of the error pending() raises in a test
local running = false -- tests are running (not being collected)

-- ---- failures ------------------------------------------------------------

-- The first caller outside this file: where the failing assertion is.
local function where()
  for level = 3, 30 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= THIS and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

local function fail(msg)
  error(where() .. msg, 0)
end

local function show(v)
  if type(v) == "string" then return string.format("(string) %q", v) end
  if type(v) == "table" then
    local seen, parts = {}, {}
    local function dump(t, depth)
      if seen[t] then return "<cycle>" end
      if depth > 3 then return "{...}" end
      seen[t] = true
      local out = {}
      for k, x in pairs(t) do
        local key = type(k) == "string" and k or "[" .. tostring(k) .. "]"
        local val = type(x) == "table" and dump(x, depth + 1)
          or type(x) == "string" and string.format("%q", x) or tostring(x)
        out[#out + 1] = key .. " = " .. val
        if #out > 20 then out[#out + 1] = "..." break end
      end
      table.sort(out)
      seen[t] = nil
      return "{ " .. table.concat(out, ", ") .. " }"
    end
    parts[1] = "(table) " .. dump(v, 1)
    return parts[1]
  end
  return "(" .. type(v) .. ") " .. tostring(v)
end

-- ---- assertions ---------------------------------------------------------

local function deep_equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_equal(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- Runs fn; returns ok, error message (without "file:line: " if the
-- caller asked for the bare message).
local function catch(fn, ...)
  if type(fn) ~= "function" then fail("expected a function, got " .. show(fn)) end
  return pcall(fn, ...)
end

local function strip_position(msg)
  if type(msg) ~= "string" then return msg end
  return (msg:gsub("^[^:\n]+:%d+: ", "", 1))
end

-- Each check returns passed, message-if-failed, message-if-negated-failed.
local checks = {}

function checks.equal(expected, actual)
  return expected == actual,
    "Expected objects to be equal.\nPassed in:\n" .. show(actual) .. "\nExpected:\n" .. show(expected),
    "Expected objects not to be equal.\nPassed in:\n" .. show(actual)
end

function checks.same(expected, actual)
  return deep_equal(expected, actual),
    "Expected objects to be the same.\nPassed in:\n" .. show(actual) .. "\nExpected:\n" .. show(expected),
    "Expected objects not to be the same.\nPassed in:\n" .. show(actual)
end

function checks.truthy(v)
  return not not v, "Expected to be truthy, but value was:\n" .. show(v),
    "Expected not to be truthy, but value was:\n" .. show(v)
end

function checks.falsy(v)
  return not v, "Expected to be falsy, but value was:\n" .. show(v),
    "Expected not to be falsy, but value was:\n" .. show(v)
end

function checks.is_true(v) return v == true, "Expected true, got:\n" .. show(v), "Expected not true" end
function checks.is_false(v) return v == false, "Expected false, got:\n" .. show(v), "Expected not false" end
function checks.is_nil(v) return v == nil, "Expected nil, got:\n" .. show(v), "Expected not nil" end

function checks.near(expected, actual, tolerance)
  local ok = type(actual) == "number" and math.abs(expected - actual) <= tolerance
  return ok, ("Expected %s to be within %s of %s"):format(show(actual), tolerance, expected),
    ("Expected %s not to be within %s of %s"):format(show(actual), tolerance, expected)
end

function checks.matches(pattern, s)
  local ok = type(s) == "string" and s:find(pattern) ~= nil
  return ok, "Expected string to match pattern " .. string.format("%q", pattern) .. "\nPassed in:\n" .. show(s),
    "Expected string not to match " .. string.format("%q", pattern) .. "\nPassed in:\n" .. show(s)
end

-- assert.error(fn [, expected]): fn must raise; if expected is given, the
-- error must equal it, with or without its "file:line: " prefix.
function checks.error(fn, expected, ...)
  local ok, err = catch(fn, ...)
  if ok then
    return false, "Expected an error, but none was raised", "Expected no error"
  end
  if expected == nil then
    return true, nil, "Expected no error, got:\n" .. show(err)
  end
  local same = deep_equal(expected, err) or expected == strip_position(err)
  return same, "Expected error:\n" .. show(expected) .. "\nGot:\n" .. show(err),
    "Expected an error other than:\n" .. show(expected)
end

-- assert.error_matches(fn, pattern): fn must raise a matching message.
function checks.error_matches(fn, pattern, ...)
  local ok, err = catch(fn, ...)
  if ok then
    return false, "Expected an error matching " .. string.format("%q", pattern) .. ", but none was raised",
      "Expected no error"
  end
  local matched = type(err) == "string" and err:find(pattern) ~= nil
  return matched, "Expected an error matching " .. string.format("%q", pattern) .. "\nGot:\n" .. show(err),
    "Expected an error not matching " .. string.format("%q", pattern)
end

for _, t in ipairs { "string", "number", "table", "function", "boolean", "userdata", "thread" } do
  checks["is_" .. t] = function(v)
    return type(v) == t, "Expected a " .. t .. ", got:\n" .. show(v), "Expected not a " .. t
  end
end

local aliases = {
  equals = "equal", are_equal = "equal", is_equal = "equal",
  are_same = "same", is_same = "same",
  is_truthy = "truthy", is_falsy = "falsy",
  errors = "error", has_error = "error", has_errors = "error",
  match = "matches", is_near = "near",
  ["true"] = "is_true", ["false"] = "is_false", ["nil"] = "is_nil",
  string = "is_string", number = "is_number", table = "is_table",
  ["function"] = "is_function", boolean = "is_boolean",
  userdata = "is_userdata", thread = "is_thread",
}

local negators = { is_not = true, are_not = true, has_no = true, no = true, ["not"] = true, not_ = true }
local fillers = { is = true, are = true, has = true, was = true, does = true, to = true, be = true }

local function make_assert(negated)
  local proxy = {}
  return setmetatable(proxy, {
    __call = function(_, v, msg, ...)
      if not v then
        error(where() .. (msg ~= nil and tostring(msg) or "assertion failed!"), 0)
      end
      return v, msg, ...
    end,
    __index = function(_, key)
      if negators[key] then return make_assert(not negated) end
      if fillers[key] then return make_assert(negated) end
      local name = key
      local neg = negated
      -- is_not_equal, is_not_nil, has_no_error...
      for prefix in pairs(negators) do
        local rest = name:match("^" .. prefix .. "_(.+)$")
        if rest and (checks[rest] or aliases[rest] or checks["is_" .. rest]) then
          name, neg = rest, not neg
          break
        end
      end
      local check = checks[name] or checks[aliases[name] or ""] or checks["is_" .. name]
        or checks[(name:gsub("^is_", ""):gsub("^are_", ""))]
      if not check then error("unknown assertion '" .. tostring(key) .. "'", 2) end
      return function(...)
        local ok, msg, negmsg = check(...)
        if neg then
          if ok then fail(negmsg or "assertion failed") end
        elseif not ok then
          fail(msg or "assertion failed")
        end
      end
    end,
  })
end

M.assert = make_assert(false)

-- checkerr(msg, f, ...): f(...) must raise an error containing msg (plain
-- text, not a pattern), as Lua's own test suite checks its errors.
function M.checkerr(msg, f, ...)
  local ok, err = pcall(f, ...)
  if ok then fail("expected an error containing '" .. msg .. "', but none was raised") end
  if type(err) ~= "string" or not err:find(msg, 1, true) then
    fail("expected an error containing '" .. msg .. "', got:\n" .. show(err))
  end
end

-- ---- task errors ---------------------------------------------------------

-- An error raised by a handler or a spawned task while a test runs fails
-- that test (the host calls this through the registry), unless the test
-- takes it with task_errors().
local task_errs = {}

function M.task_errors()
  local errs = task_errs
  task_errs = {}
  return errs
end

local function on_task_error(msg)
  task_errs[#task_errs + 1] = tostring(msg)
end

-- loadhandler(path, ...): runs a handler script as `host path ...` would
-- (with `...`, the global `arg` and host.arg set to the arguments while
-- it loads) and returns what it returned, so a handler configured through
-- its arguments can be tested as it runs.
function M.loadhandler(path, ...)
  local chunk, err = loadfile(path)
  if not chunk then error(err, 2) end
  local args = table.pack(...)
  local list = { [0] = path }
  for i = 1, args.n do list[i] = args[i] end
  local saved_arg, saved_host_arg = rawget(_G, "arg"), host.arg
  _G.arg, host.arg = list, { table.unpack(list, 1, args.n) }
  local results = table.pack(pcall(chunk, ...))
  _G.arg, host.arg = saved_arg, saved_host_arg
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- ---- collecting ---------------------------------------------------------

local function new_block(name, parent)
  return { name = name, parent = parent, children = {}, befores = {}, afters = {},
           setups = {}, teardowns = {} }
end

local function full_name(block, leaf)
  local parts = { leaf }
  while block and block.name do
    table.insert(parts, 1, block.name)
    block = block.parent
  end
  return table.concat(parts, " ")
end

-- The functions a test file sees as globals, bound to the file's tree.
local function dsl(root)
  local current = root
  local env = {}
  function env.describe(name, fn)
    local block = new_block(tostring(name), current)
    table.insert(current.children, block)
    local saved = current
    current = block
    local ok, err = xpcall(fn, debug.traceback)
    current = saved
    if not ok then
      table.insert(block.children, { kind = "error", name = "(describe body)", err = err })
    end
  end
  env.context = env.describe
  function env.it(name, fn)
    table.insert(current.children, { kind = "it", name = tostring(name), fn = fn })
  end
  env.test = env.it
  -- pending(name) while collecting declares a pending test; called from
  -- inside a running test it stops that test and marks it pending.
  function env.pending(name)
    if running then error(setmetatable({ pending = tostring(name) }, PENDING), 2) end
    table.insert(current.children, { kind = "pending", name = tostring(name) })
  end
  function env.before_each(fn) table.insert(current.befores, fn) end
  function env.after_each(fn) table.insert(current.afters, fn) end
  function env.setup(fn) table.insert(current.setups, fn) end
  function env.teardown(fn) table.insert(current.teardowns, fn) end
  env.lazy_setup, env.strict_setup = env.setup, env.setup
  env.lazy_teardown, env.strict_teardown = env.teardown, env.teardown
  env.assert = M.assert
  env.checkerr = M.checkerr
  env.task_errors = M.task_errors
  env.loadhandler = M.loadhandler
  return env
end

-- ---- running ---------------------------------------------------------------

local counts = { passed = 0, failed = 0, pending = 0, n = 0 }

local function report(ok, name, detail)
  counts.n = counts.n + 1
  if ok == "pending" then
    counts.pending = counts.pending + 1
    io.write(("ok %d - %s # SKIP pending\n"):format(counts.n, name))
  elseif ok then
    counts.passed = counts.passed + 1
    io.write(("ok %d - %s\n"):format(counts.n, name))
  else
    counts.failed = counts.failed + 1
    io.write(("not ok %d - %s\n"):format(counts.n, name))
    for line in (tostring(detail) .. "\n"):gmatch("(.-)\n") do
      io.write("#   ", line, "\n")
    end
  end
  io.flush()
end

local function chain(block, field, outer_first)
  local list = {}
  local b = block
  while b do
    local fns = b[field]
    if outer_first then
      for i = #fns, 1, -1 do table.insert(list, 1, fns[i]) end
    else
      for _, fn in ipairs(fns) do list[#list + 1] = fn end
    end
    b = b.parent
  end
  return list
end

local serial = 0

-- Runs fns in order in a new task, with the M.timeout limit.  Returns
-- true, or false and the failure (message + traceback).  A test that
-- waits with nothing left that could ever wake it (host.wait() with no
-- timeout and no other task, connection or timer alive) fails at once
-- instead of at the limit.
local function run_task(fns)
  serial = serial + 1
  local token, me = serial, coroutine.running()
  local waiting, result = true, nil
  local co = host.spawn(function()
    local ok, err = true, nil
    for _, fn in ipairs(fns) do
      local okf, errf = xpcall(fn, function(e)
        if getmetatable(e) == PENDING then return e end
        return debug.traceback(e, 2)
      end)
      if not okf and ok then ok, err = false, errf end
    end
    if waiting and serial == token then
      -- Kept as well as sent: the runner may be paused by its time slice
      -- rather than in host.wait when this comes (the wakeup is lost).
      result = { ok, err }
      host.wakeup(me, ok, err)
    end
  end)
  local deadline = host.now() + M.timeout
  local ok, err
  while true do
    local left = deadline - host.now()
    if left <= 0 then
      ok, err = false, ("timed out after %g s"):format(M.timeout)
      host._cancel(co) -- a test that computes for ever stops here
      break
    end
    ok, err = host.wait(math.min(left, 0.05))
    if not (ok == nil and err == "timeout") then break end
    if result then
      ok, err = result[1], result[2]
      break
    end
    if host._idle() then
      ok, err = false, "the test waits with nothing left that could wake " ..
        "it (host.wait() with no timeout, and no task, connection or " ..
        "timer that could call host.wakeup)"
      break
    end
  end
  waiting = false
  return ok, err
end

-- Runs an `it` and the hooks around it; task errors raised meanwhile and
-- not taken with task_errors() fail it.
local function run_test(befores, fn, afters)
  task_errs = {}
  local ok, err = run_task(befores)
  if ok then ok, err = run_task { fn } end
  local aok, aerr = run_task(afters)
  if ok and not aok then ok, err = false, "after_each: " .. tostring(aerr) end
  if #task_errs > 0 then
    local errs = table.concat(task_errs, "\n")
    if ok then
      ok, err = false, ("a task raised an error during this test (take " ..
        "expected ones with task_errors()):\n%s"):format(errs)
    else -- e.g. the test's own task was killed
      err = ("%s\nand a task raised an error during this test:\n%s"):format(
        tostring(err), errs)
    end
  end
  task_errs = {}
  return ok, err
end

local function run_block(block)
  for _, fn in ipairs(block.setups) do
    local ok, err = run_task { fn }
    if not ok then
      report(false, full_name(block, "setup"), err)
      return
    end
  end
  for _, child in ipairs(block.children) do
    if child.kind == "it" then
      -- before_each (outermost first), the test, after_each (innermost
      -- first); after_each runs even when the test failed.
      local befores = chain(block, "befores", true)
      local afters = chain(block, "afters", false)
      local ok, err = run_test(befores, child.fn, afters)
      if getmetatable(err) == PENDING then
        report("pending", full_name(block, child.name) .. ": " .. err.pending)
      else
        report(ok, full_name(block, child.name), err)
      end
    elseif child.kind == "pending" then
      report("pending", full_name(block, child.name))
    elseif child.kind == "error" then
      report(false, full_name(block, child.name), child.err)
    else
      run_block(child)
    end
  end
  for _, fn in ipairs(block.teardowns) do
    local ok, err = run_task { fn }
    if not ok then report(false, full_name(block, "teardown"), err) end
  end
end

-- Loads and runs one file's tests.
function M.run_file(path)
  local root = new_block(nil, nil)
  local env = setmetatable(dsl(root), { __index = _G })
  local dir = path:match("^(.*[/\\])") or "./"
  local saved_path = package.path
  package.path = dir .. "?.lua;" .. saved_path
  local chunk, err = loadfile(path, "t", env)
  if not chunk then
    report(false, path, err)
  else
    local ok, lerr = xpcall(chunk, debug.traceback)
    if not ok then
      report(false, path, lerr)
    else
      running = true
      run_block(root)
      running = false
    end
  end
  package.path = saved_path
end

-- Runs every file; prints the summary; returns the number of failures.
-- Inside tests os.exit raises instead: a test that ended the process
-- would end the run with no verdict.
function M.run_files(files)
  running = false
  debug.getregistry()["host.on_task_error"] = on_task_error
  os.exit = function(code)
    error(("os.exit(%s) called inside a test: tests must not end the " ..
      "process"):format(tostring(code)), 2)
  end
  for _, path in ipairs(files) do
    io.write("# ", path, "\n")
    M.run_file(path)
  end
  if counts.pending > 0 then io.write(("# %d pending\n"):format(counts.pending)) end
  io.write(("%d passed, %d failed\n"):format(counts.passed, counts.failed))
  io.flush()
  return counts.failed
end

return M
