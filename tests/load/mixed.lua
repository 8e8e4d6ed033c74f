-- mixed.lua: wrk script for tests/load/test_load.py, a mix of reads and writes against
-- `wfreg serve` with an admin token (WFREG_TOKEN).
--
-- Per ten requests a thread sends: one POST of a new engine (with an API key), one PATCH
-- and one DELETE of engines it created itself, and seven reads (lists with filters and
-- pages, one seeded engine, /healthz). The seeded engines (seed-000 .. seed-NNN,
-- WFREG_SEEDS of them) are only ever read.
--
-- Race-free by construction, so that any non-2xx answer is the server's fault: wrk
-- spreads a thread's requests over its connections, so a request sent after another may
-- be answered before it. A name is therefore PATCHed only once its POST has been answered
-- 201, and DELETEd only once its PATCH has been answered 200 (response() reads the name
-- back from the answer); names are never reused (thread id and a counter, under
-- WFREG_RUN_ID); no request ever reads an engine of the mix. When nothing is ready to be
-- patched or deleted, that slot is a read instead.
--
-- done() prints one line per figure, "MIX key=value ...", which the test parses: answers
-- by status class, writes answered, wrk's socket errors, latency percentiles.

local token = os.getenv("WFREG_TOKEN")
local run_id = os.getenv("WFREG_RUN_ID") or tostring(os.time())
local seeds = tonumber(os.getenv("WFREG_SEEDS") or "1")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

-- A FIFO queue of names.
local function queue()
  return {first = 1, last = 0, items = {}}
end

local function push(q, v)
  q.last = q.last + 1
  q.items[q.last] = v
end

local function pop(q)
  if q.first > q.last then
    return nil
  end
  local v = q.items[q.first]
  q.items[q.first] = nil
  q.first = q.first + 1
  return v
end

function init(args)
  prefix = string.format("mix-%s-%d-", run_id, tid)
  name_pattern = '"name":"(' .. prefix:gsub("%-", "%%-") .. '[^"]*)"'
  n, made = 0, 0
  to_patch, to_delete = queue(), queue()
  -- answers by status class, and the writes answered as expected
  c2, c3, c4, c5, created, patched, deleted = 0, 0, 0, 0, 0, 0, 0
  -- requests sent, by kind
  sent_create, sent_patch, sent_delete, sent_read = 0, 0, 0, 0
  bad = "" -- the first unexpected answers, for the test's message
  read_headers = {["Authorization"] = "Bearer " .. token}
  write_headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

local function seed_name()
  return string.format("seed-%03d", math.random(0, seeds - 1))
end

local reads = {
  function() return "/api/v1/engines?limit=50" end,
  function() return "/api/v1/engines/" .. seed_name() end,
  function() return "/healthz" end,
  function() return "/api/v1/engines?engine_type=prefect&limit=20" end,
  function() return "/api/v1/engines/" .. seed_name() end,
  function() return string.format("/api/v1/engines?limit=20&offset=%d", math.random(0, seeds)) end,
  function() return "/api/v1/engines?active=false&limit=10" end,
}

local function read(i)
  sent_read = sent_read + 1
  return wrk.format("GET", reads[(i % #reads) + 1](), read_headers)
end

function request()
  n = n + 1
  local slot = n % 10
  if slot == 0 then
    made = made + 1
    sent_create = sent_create + 1
    local body = string.format(
      '{"name":"%s%d","engine_type":"n8n","api_url":"http://127.0.0.1:9/api",' ..
      '"api_key":"load-key-%d-%d","active":false,"config":{"timeout_ms":2000}}',
      prefix, made, tid, made)
    return wrk.format("POST", "/api/v1/engines", write_headers, body)
  elseif slot == 3 then
    local name = pop(to_patch)
    if name then
      sent_patch = sent_patch + 1
      return wrk.format("PATCH", "/api/v1/engines/" .. name, write_headers,
        string.format('{"api_key":"load-key-%d-%d-rotated","config":{"timeout_ms":3000}}',
          tid, n))
    end
  elseif slot == 6 then
    local name = pop(to_delete)
    if name then
      sent_delete = sent_delete + 1
      return wrk.format("DELETE", "/api/v1/engines/" .. name, read_headers)
    end
  end
  return read(n)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    c2 = c2 + 1
  elseif status < 400 then
    c3 = c3 + 1
  elseif status < 500 then
    c4 = c4 + 1
  else
    c5 = c5 + 1
  end
  if status == 201 then
    local name = body:match(name_pattern)
    if name then
      created = created + 1
      push(to_patch, name)
    end
  elseif status == 204 then
    deleted = deleted + 1
  elseif status == 200 and body:sub(1, 6) == '{"id":' then
    -- one engine: a seeded one (a read) or one of ours (a PATCH's answer)
    local name = body:match(name_pattern)
    if name then
      patched = patched + 1
      push(to_delete, name)
    end
  elseif status >= 300 and #bad < 1000 then
    bad = bad .. string.format("[%d %s] ", status, (body or ""):sub(1, 160))
  end
end

function done(summary, latency, requests)
  local keys = {"c2", "c3", "c4", "c5", "created", "patched", "deleted", "sent_create",
                "sent_patch", "sent_delete", "sent_read"}
  local total = {}
  for _, k in ipairs(keys) do
    total[k] = 0
  end
  local bads = ""
  for _, t in ipairs(threads) do
    for _, k in ipairs(keys) do
      total[k] = total[k] + (tonumber(t:get(k)) or 0)
    end
    bads = bads .. (t:get("bad") or "")
  end
  io.write(string.format("MIX status 2xx=%d 3xx=%d 4xx=%d 5xx=%d\n",
    total.c2, total.c3, total.c4, total.c5))
  io.write(string.format("MIX answered created=%d patched=%d deleted=%d\n",
    total.created, total.patched, total.deleted))
  io.write(string.format("MIX sent create=%d patch=%d delete=%d read=%d\n",
    total.sent_create, total.sent_patch, total.sent_delete, total.sent_read))
  local e = summary.errors
  io.write(string.format("MIX errors connect=%d read=%d write=%d timeout=%d status=%d\n",
    e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("MIX summary requests=%d duration_us=%d bytes=%d\n",
    summary.requests, summary.duration, summary.bytes))
  io.write(string.format("MIX latency_us p50=%d p90=%d p99=%d max=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  if bads ~= "" then
    io.write("MIX unexpected " .. bads .. "\n")
  end
end
