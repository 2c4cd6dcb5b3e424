-- Tests for http_json.lua: the JSON API through the client, with the
-- handler loaded as `host http_json.lua 3` would run it (loadhandler).
local host = require "host"
local http = require "host.http"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local has_cjson, cjson = pcall(require, "cjson")

describe("examples/http_json", function()
  if not has_cjson then
    pending("cjson is not installed (Debian: lua-cjson)")
    return
  end

  local server, url
  before_each(function()
    -- a fresh handler (and so an empty list) per test, at most 3 notes
    server = assert(host.listen("127.0.0.1:0", loadhandler(here .. "http_json.lua", "3")))
    url = "http://" .. server.address
  end)
  after_each(function() server:close() end)

  local function call(method, path, value, raw)
    local r = assert(http.request { method = method, url = url .. path,
      body = raw or (value ~= nil and cjson.encode(value) or nil) })
    local decoded = r.body ~= "" and cjson.decode(r.body) or nil
    return r.status, decoded, r
  end

  it("creates, lists, reads and deletes notes", function()
    local status, list = call("GET", "/notes")
    assert.equal(200, status)
    assert.same({}, list)
    local note
    status, note = call("POST", "/notes", { text = "buy milk" })
    assert.equal(201, status)
    assert.same({ id = 1, text = "buy milk" }, note)
    call("POST", "/notes", { text = "call home" })
    status, list = call("GET", "/notes")
    assert.same({ { id = 1, text = "buy milk" }, { id = 2, text = "call home" } }, list)
    local r
    status, note, r = call("GET", "/notes/2")
    assert.equal("call home", note.text)
    assert.equal("application/json", r.headers["content-type"])
    status, note, r = call("DELETE", "/notes/1")
    assert.equal(204, status)
    assert.equal("", r.body)
    assert.equal(404, (call("GET", "/notes/1")))
  end)

  it("answers bad input with JSON errors", function()
    local status, err = call("POST", "/notes", nil, "{not json")
    assert.equal(400, status)
    assert.truthy(err.error)
    assert.equal(400, (call("POST", "/notes", { title = "no text" })))
    assert.equal(404, (call("GET", "/nothing")))
    assert.equal(405, (call("PUT", "/notes", {})))
    assert.equal(405, (call("POST", "/notes/1", {})))
  end)

  it("keeps at most as many notes as its argument says", function()
    for i = 1, 3 do assert.equal(201, (call("POST", "/notes", { text = "n" .. i }))) end
    local status, err = call("POST", "/notes", { text = "one too many" })
    assert.equal(409, status)
    assert.equal("the list is full", err.error)
  end)

  it("refuses a body over 16 KiB with 413", function()
    local r, err = http.request { method = "POST", url = url .. "/notes",
                                  body = string.rep("x", 20000) }
    -- the server answers 413 and closes; the client may see either
    if r then assert.equal(413, r.status) else assert.truthy(err) end
  end)
end)
