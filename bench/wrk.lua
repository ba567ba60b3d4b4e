-- The bench's wrk script (bench/served.py): replays a file of requests the bench wrote, one a line,
-- "METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY" (token and body may be empty), round robin, each thread
-- from its own offset; counts the X-Cache values and error statuses; prints one JSON line at the end.

local threads = {}
local lines, position = {}, 0
hit, miss, stale, bypass, client_errors, server_errors = 0, 0, 0, 0, 0, 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = { Accept = "application/json" }
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    if body == "" then body = nil else headers["Content-Type"] = "application/json" end
    lines[#lines + 1] = wrk.format(method, path, headers, body)
  end
  position = (id * 7919) % #lines
end

function request()
  position = position % #lines + 1
  return lines[position]
end

function response(status, headers, body)
  local cache = headers["X-Cache"] or headers["x-cache"]
  if cache == "HIT" then hit = hit + 1
  elseif cache == "MISS" then miss = miss + 1
  elseif cache == "STALE" then stale = stale + 1
  elseif cache == "BYPASS" then bypass = bypass + 1 end
  if status >= 500 then server_errors = server_errors + 1
  elseif status >= 400 then client_errors = client_errors + 1 end
end

function done(summary, latency, requests)
  local totals = { hit = 0, miss = 0, stale = 0, bypass = 0, client_errors = 0, server_errors = 0 }
  for _, thread in ipairs(threads) do
    for name, value in pairs(totals) do totals[name] = value + thread:get(name) end
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "socket_errors": %d, ' ..
    '"client_errors": %d, "server_errors": %d, "x_cache": {"HIT": %d, "MISS": %d, "STALE": %d, "BYPASS": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    errors.connect + errors.read + errors.write + errors.timeout, totals.client_errors, totals.server_errors,
    totals.hit, totals.miss, totals.stale, totals.bypass))
end
