-- http_hello.lua: the smallest HTTP server.  Every request gets
-- "hello, world"; keep-alive, pipelining, HEAD, HTTP/1.0 and bad
-- requests are the module's business.
--
--   host scripts/examples/http_hello.lua          (127.0.0.1:4567)
--   curl -v http://127.0.0.1:4567/
local http = require "host.http"

-- The fields every response carries, checked and assembled once (a
-- plain table works as well: http.headers saves checking it each time).
local TEXT = http.headers { ["Content-Type"] = "text/plain" }

return http.server(function(req, res)
  res:send(200, "hello, world\n", TEXT)
end)
