-- echo.lua: sends every byte back.  Run: host scripts/examples/echo.lua
-- Each accepted connection runs this function in its own coroutine.
return function(conn)
  while true do
    local data = conn:recv()      -- whatever has arrived; yields until then
    if not data then return end   -- nil, "closed" when the peer is done
    conn:write(data)              -- queued: it goes out, with whatever else
                                  -- this turn wrote, before the worker waits
  end
end
