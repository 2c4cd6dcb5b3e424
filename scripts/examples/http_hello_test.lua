-- Tests for http_hello.lua, with the `host test` helpers: the server on
-- a free port, requests through the client.
local host = require "host"
local http = require "host.http"

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local handler = loadhandler(here .. "http_hello.lua")

describe("examples/http_hello", function()
  local server
  before_each(function()
    server = assert(host.listen("127.0.0.1:0", handler))
  end)
  after_each(function() server:close() end)

  it("says hello to any path and method", function()
    local url = "http://" .. server.address
    for _, t in ipairs { { url = url .. "/" }, { url = url .. "/a/b?c=d" },
                         { url = url .. "/", method = "POST", body = "ignored" } } do
      local r = assert(http.request(t))
      assert.equal(200, r.status)
      assert.equal("hello, world\n", r.body)
      assert.equal("text/plain", r.headers["content-type"])
    end
  end)

  it("answers HEAD without a body", function()
    local r = assert(http.request { url = "http://" .. server.address .. "/", method = "HEAD" })
    assert.equal("13", r.headers["content-length"])
    assert.equal("", r.body)
  end)
end)
