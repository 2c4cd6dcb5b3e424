-- chat.lua: a line chat across every worker of the host.
--
--   host --workers 4 scripts/examples/chat.lua      then, several times:
--   nc 127.0.0.1 4567
--
-- The first line a client sends is its name, which must be free across
-- the whole host: the names live in a dictionary every worker shares
-- (host.shared), taken with add, which fails with "exists" for a name in
-- use anywhere.  Every later line goes to everyone connected, whichever
-- worker accepted them: to this worker's clients directly, and to the
-- other workers with host.broadcast; each worker has one task that
-- receives those and passes them to its own clients.  A name may send 5
-- lines a second (a counter in the same dictionary, created with a 1 s
-- TTL); lines over that are refused.
--
-- A slow reader holds up nobody: each client has its own writer task and
-- outbox, bounded (a client 100 lines behind misses lines).  The relay
-- task ends when the host stops, or on a message from its own worker
-- that carries no line (the tests end it that way).
local host = require "host"

local MAX_LINE, MAX_OUTBOX, RATE = 1024, 100, 5
local shared = host.shared("chat")
local clients = {} -- this worker's: conn -> outbox

-- The writer task of one client: sends what its outbox holds, waits
-- (host.wait) when it is empty.
local function writer(conn, box)
  while not box.done do
    local line = table.remove(box, 1)
    if line then
      if not conn:send(line) then return end
    else
      host.wait()
    end
  end
end

local function put(box, line)
  if #box < MAX_OUTBOX then box[#box + 1] = line end
  host.wakeup(box.task) -- false if it is busy sending: it will look again
end

local function tell_here(line)
  for _, box in pairs(clients) do put(box, line) end
end

local function say(line)
  tell_here(line)
  host.broadcast(line) -- nil, "full": a swamped worker misses this line
end

-- What the other workers' clients say.
host.spawn(function()
  while true do
    local from, line = host.receive()
    if not from then return end -- the host is stopping
    if line == nil and from == host.worker then return end
    tell_here(line)
  end
end)

return function(conn)
  conn:setoption("maxline", MAX_LINE)
  conn:send("name? ")
  local name = conn:read("l")
  if not name or not name:match("^%w+$") or #name > 32 then
    conn:send("a name is 1 to 32 letters or digits\n")
    return
  end
  if not shared:add("name:" .. name, host.worker) then
    conn:send("name taken\n")
    return
  end
  local box = { done = false }
  box.task = host.spawn(writer, conn, box)
  clients[conn] = box
  put(box, "hello " .. name .. "\n")
  say(name .. " joined\n")
  for line in conn:lines() do
    local n = shared:incr("rate:" .. name, 1, 0, 1)
    if n and n > RATE then
      put(box, "too fast: line dropped\n")
    else
      say(name .. ": " .. line .. "\n")
    end
  end
  clients[conn] = nil
  box.done = true
  host.wakeup(box.task)
  shared:delete("name:" .. name)
  say(name .. " left\n")
end
