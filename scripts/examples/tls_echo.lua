-- tls_echo.lua: an echo server over TLS.
--
--   host scripts/examples/tls_echo.lua CERT KEY [ADDRESS]
--   HOST_TLS_CERT=cert.pem HOST_TLS_KEY=key.pem host scripts/examples/tls_echo.lua
--
-- CERT is a PEM file with the certificate, then its chain; KEY its private
-- key (PEM, not encrypted).  ADDRESS defaults to HOST_TLS_LISTEN, else
-- 127.0.0.1:4567.  Try it with
--   openssl s_client -connect 127.0.0.1:4567 -CAfile ca.pem
-- The handshake completes before the handler runs; a client that fails it
-- (plain text, a bad certificate, a stall past 10 s) never reaches it.
local host = require "host"

local cert = host.arg[1] or os.getenv("HOST_TLS_CERT")
local key = host.arg[2] or os.getenv("HOST_TLS_KEY")
local address = host.arg[3] or os.getenv("HOST_TLS_LISTEN") or "127.0.0.1:4567"
if not cert or not key then
  error("usage: host tls_echo.lua CERT KEY [ADDRESS] (or HOST_TLS_CERT, HOST_TLS_KEY)", 0)
end

local function echo(conn)
  while true do
    local data = conn:recv()      -- plaintext, decrypted by the host
    if not data then return end   -- nil, "closed" (or "tls", reason)
    conn:write(data)              -- queued, encrypted on its way out
  end
end

-- A bad certificate or key raises here, with the file and the reason.
assert(host.listen(address, echo, { tls = { cert = cert, key = key } }))
