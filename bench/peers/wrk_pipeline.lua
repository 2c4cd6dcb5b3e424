-- wrk script: each request is DEPTH requests (default 16) in one write,
-- so the server sees pipelining.  wrk -s wrk_pipeline.lua URL -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end

request = function() return req end
