-- create.lua: wrk script for creates alone: every request POSTs a new engine with an API
-- key (validated, encrypted, committed with its audit row, snapshot rebuilt).
local token = os.getenv("WFREG_TOKEN")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  n = 0
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local name = string.format("create-%d-%d-%d", os.time(), tid, n)
  local body = string.format(
    '{"name":"%s","engine_type":"n8n","api_url":"http://127.0.0.1:5678","api_key":"bench-key-%d"}',
    name, n)
  return wrk.format("POST", "/api/v1/engines", nil, body)
end
