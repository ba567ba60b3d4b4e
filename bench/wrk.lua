-- The bench's wrk script (bench/served.py): replays a file of requests the bench wrote, one a line,
-- "METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY" (token and body may be empty), round robin, each thread
-- from its own offset; counts X-Cache values and error statuses; prints one JSON line at the end.
local threads, lines, position = {}, {}, 0
counts = { HIT = 0, MISS = 0, STALE = 0, BYPASS = 0, client_errors = 0, server_errors = 0 }

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = { Accept = "application/json", Authorization = token ~= "" and "Bearer " .. token or nil }
    if body ~= "" then headers["Content-Type"] = "application/json" else body = nil end
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
  if counts[cache or ""] then counts[cache] = counts[cache] + 1 end
  local kind = status >= 500 and "server_errors" or status >= 400 and "client_errors"
  if kind then counts[kind] = counts[kind] + 1 end
end

function done(summary, latency, requests)
  local total = { HIT = 0, MISS = 0, STALE = 0, BYPASS = 0, client_errors = 0, server_errors = 0 }
  for _, thread in ipairs(threads) do
    for name, value in pairs(thread:get("counts")) do total[name] = total[name] + value end
  end
  local e = summary.errors
  io.write(string.format('{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "socket_errors": %d, '
    .. '"client_errors": %d, "server_errors": %d, "x_cache": {"HIT": %d, "MISS": %d, "STALE": %d, "BYPASS": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout, total.client_errors, total.server_errors,
    total.HIT, total.MISS, total.STALE, total.BYPASS))
end
