-- http_hello.lua: the smallest HTTP server.  Every request gets
-- "hello, world"; keep-alive, pipelining, HEAD, HTTP/1.0 and bad
-- requests are the module's business.
--
--   host scripts/examples/http_hello.lua          (127.0.0.1:4567)
--   curl -v http://127.0.0.1:4567/
local http = require "host.http"

return http.server(function(req, res)
  res:send(200, "hello, world\n", { ["Content-Type"] = "text/plain" })
end)
