-- Tests for chat.lua.  `host test` runs one worker: what the other
-- workers' clients say arrives as messages, so the tests post them to
-- this worker themselves (tests/e2e/coop_test.py runs the chat on
-- several workers).
local host = require "host"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local handler = dofile(here .. "chat.lua")

describe("examples/chat", function()
  local server
  setup(function() server = assert(host.listen("127.0.0.1:0", handler)) end)
  teardown(function()
    server:close()
    host.post(host.worker) -- ends the relay task: the inbox is ours again
  end)

  local function join(name)
    local c = assert(host.connect(server.address))
    c:settimeout(2)
    assert.equal("name? ", c:read(6))
    c:send(name, "\n")
    return c
  end

  it("says hello, and tells everyone who joins and leaves", function()
    local a = join("alice")
    assert.equal("hello alice", a:read("l"))
    assert.equal("alice joined", a:read("l"))
    local b = join("bob")
    assert.equal("hello bob", b:read("l"))
    assert.equal("bob joined", b:read("l"))
    assert.equal("bob joined", a:read("l"))
    b:close()
    assert.equal("bob left", a:read("l"))
    a:close()
  end)

  it("passes a line to every client", function()
    local a, b = join("ann"), join("ben")
    assert.equal("hello ann", a:read("l"))
    assert.equal("ann joined", a:read("l"))
    assert.equal("ben joined", a:read("l"))
    assert.equal("hello ben", b:read("l"))
    assert.equal("ben joined", b:read("l"))
    a:send("hi all\n")
    assert.equal("ann: hi all", a:read("l"))
    assert.equal("ann: hi all", b:read("l"))
    a:close()
    b:close()
  end)

  it("refuses a name in use, and a bad one", function()
    local a = join("carol")
    assert.equal("hello carol", a:read("l"))
    local again = join("carol")
    assert.equal("name taken", again:read("l"))
    assert.same({ nil, "closed" }, { again:read("l") })
    local bad = join("no spaces please")
    assert.equal("a name is 1 to 32 letters or digits", bad:read("l"))
    a:close()
    again:close()
    bad:close()
  end)

  it("frees a name when its client leaves", function()
    local a = join("dave")
    assert.equal("hello dave", a:read("l"))
    a:close()
    local deadline = host.now() + 2
    while host.shared("chat"):get("name:dave") and host.now() < deadline do
      host.sleep(0.01)
    end
    local b = join("dave")
    assert.equal("hello dave", b:read("l"))
    b:close()
  end)

  it("passes on what the other workers' clients say", function()
    local a = join("erin")
    assert.equal("hello erin", a:read("l"))
    assert.equal("erin joined", a:read("l"))
    host.post(host.worker, "zed: from another worker\n")
    assert.equal("zed: from another worker", a:read("l"))
    a:close()
  end)

  it("refuses lines over 5 a second", function()
    local a = join("fay")
    assert.equal("hello fay", a:read("l"))
    assert.equal("fay joined", a:read("l"))
    for i = 1, 6 do a:send("line ", i, "\n") end
    for i = 1, 5 do assert.equal("fay: line " .. i, a:read("l")) end
    assert.equal("too fast: line dropped", a:read("l"))
    a:close()
  end)
end)
