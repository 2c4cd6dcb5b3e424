-- Shared helpers for the script-level tests of the host itself.
local host = require "host"

local M = {}

-- A listener on a free loopback port running handler; closed by the
-- caller (or at the end of the run).
function M.serve(handler, options)
  return assert(host.listen("127.0.0.1:0", handler, options))
end

function M.echo(conn)
  while true do
    local data = conn:recv()
    if not data then return end
    if not conn:send(data) then return end
  end
end

-- A server whose handler hands each accepted conn to the test through
-- the returned queue; accept() waits for the next one.
function M.accepting()
  local conns, waiter = {}, nil
  local l = M.serve(function(conn)
    conns[#conns + 1] = conn
    if waiter then host.wakeup(waiter) end
    host.wait() -- keep the handler (and so the connection) alive
  end)
  local q = { listener = l }
  function q.accept()
    while #conns == 0 do
      waiter = coroutine.running()
      host.wait(5)
      waiter = nil
    end
    return table.remove(conns, 1)
  end
  return q
end

-- Waits (in steps of 10 ms, `seconds` at most, default 3) until cond()
-- is truthy; returns its value.
function M.eventually(cond, seconds)
  local deadline = host.now() + (seconds or 3)
  local v = cond()
  while not v and host.now() < deadline do
    host.sleep(0.01)
    v = cond()
  end
  return v
end

-- Closes conn unless it is closed already (close() on a closed
-- connection raises, as file:close() does).
function M.close(conn)
  if tostring(conn) ~= "host.conn (closed)" then conn:close() end
end

-- Runs fn in a new task and waits (5 s at most) for it to finish;
-- returns what it returned.
function M.join(fn, ...)
  local me = coroutine.running()
  local args = table.pack(...)
  local done, results = false, nil
  host.spawn(function()
    results = table.pack(fn(table.unpack(args, 1, args.n)))
    done = true
    host.wakeup(me)
  end)
  if not done then host.wait(5) end
  assert(done, "joined task did not finish")
  return table.unpack(results, 1, results.n)
end

-- What the task running coroutine co waits on now (host.tasks()'s
-- "waits": "wait", "recv", "ready"...), or nil if it is not a task.  A
-- test that needs another task to be waiting waits for this: a task that
-- computes for more than a slice is paused, so host.sleep(0) alone does
-- not promise that it got that far.
function M.waits(co)
  for _, t in ipairs(host.tasks()) do
    if t.co == co then return t.waits end
  end
end

return M
