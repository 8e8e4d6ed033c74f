-- crud.lua: wrk script for the create/delete mix. Each thread alternates a POST of a new
-- engine and a DELETE of one it created LAG requests earlier: wrk spreads a thread's
-- requests over its connections, so deleting the name just posted could overtake it.
local LAG = 256
local token = os.getenv("WFREG_TOKEN")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  n = 0
  created = {}
  head, tail = 1, 1
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  if n % 2 == 0 and tail - head >= LAG then
    local name = created[head]
    created[head] = nil
    head = head + 1
    return wrk.format("DELETE", "/api/v1/engines/" .. name)
  end
  local name = string.format("bench-%d-%d-%d-%d", os.time(), tid, n, math.random(1, 1000000000))
  created[tail] = name
  tail = tail + 1
  local body = string.format(
    '{"name":"%s","engine_type":"n8n","api_url":"http://127.0.0.1:5678","api_key":"bench-key-%d"}',
    name, n)
  return wrk.format("POST", "/api/v1/engines", nil, body)
end
