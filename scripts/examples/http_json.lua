-- http_json.lua: a small JSON API over HTTP, with cjson (Debian
-- lua-cjson): a list of notes kept in memory.
--
--   GET    /notes          -> 200 [{"id": 1, "text": "..."}, ...]
--   POST   /notes          {"text": "..."} -> 201 {"id": n, "text": "..."}
--   GET    /notes/<id>     -> 200 {"id": n, "text": "..."} | 404
--   DELETE /notes/<id>     -> 204 | 404
--
-- Errors are JSON too: {"error": "..."} with 400 (not JSON, no text),
-- 404, 405, 409 (the list is full), 413 (a body over 16 KiB: the module
-- answers before the handler runs).  `host scripts/examples/http_json.lua
-- [MAX_NOTES]` (default 100).  Each worker keeps its own list: run it
-- with --workers 1, or share it through host.shared in a real service.
local http = require "host.http"
local cjson = require "cjson"

local MAX_NOTES = tonumber((...)) or 100

local notes, order, next_id = {}, {}, 1
local JSON = { ["Content-Type"] = "application/json" }

local function reply(res, status, value)
  return res:send(status, value == nil and "" or cjson.encode(value), JSON)
end

local function fail(res, status, message)
  return reply(res, status, { error = message })
end

local function list(req, res)
  local out = {}
  for _, id in ipairs(order) do out[#out + 1] = notes[id] end
  -- cjson writes an empty table as {}: an empty list must be []
  if #out == 0 then return res:send(200, "[]", JSON) end
  return reply(res, 200, out)
end

local function create(req, res)
  local body, err = req:body()
  if not body then return fail(res, 400, err) end
  local ok, value = pcall(cjson.decode, body)
  if not ok or type(value) ~= "table" or type(value.text) ~= "string" then
    return fail(res, 400, 'expected {"text": "..."}')
  end
  if #order >= MAX_NOTES then return fail(res, 409, "the list is full") end
  local note = { id = next_id, text = value.text }
  next_id = next_id + 1
  notes[note.id] = note
  order[#order + 1] = note.id
  return reply(res, 201, note)
end

local function remove(id)
  notes[id] = nil
  for i, v in ipairs(order) do
    if v == id then table.remove(order, i) break end
  end
end

local function one(req, res, id)
  local note = notes[id]
  if not note then return fail(res, 404, "no such note") end
  if req.method == "GET" then return reply(res, 200, note) end
  remove(id)
  return res:send(204)
end

return http.server(function(req, res)
  if req.path == "/notes" then
    if req.method == "GET" then return list(req, res) end
    if req.method == "POST" then return create(req, res) end
    return fail(res, 405, "GET or POST")
  end
  local id = req.path:match("^/notes/(%d+)$")
  if id then
    if req.method == "GET" or req.method == "DELETE" then
      return one(req, res, tonumber(id))
    end
    return fail(res, 405, "GET or DELETE")
  end
  return fail(res, 404, "not found")
end, { max_body = 16 * 1024 })
