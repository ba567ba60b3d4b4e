-- The bench's wrk script (bench/served.py): replays a file of requests the bench wrote, one a line,
-- "METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY" (token and body may be empty), round robin, each thread
-- from its own offset; counts X-Cache values and error statuses; prints one JSON line at the end.
-- Several files ("GROUP=PATH" each): thread n replays file n mod their number, and the X-Cache
-- counts are also given per group (a thread's requests are all its group's).
local threads, lines, position = {}, {}, 0
counts = { HIT = 0, MISS = 0, STALE = 0, BYPASS = 0, client_errors = 0, server_errors = 0 }

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local spec = args[id % #args + 1]
  local named, path = spec:match("^(%w+)=(.*)$")
  group = #args > 1 and named or nil
  for line in io.lines(path or spec) do
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

local function x_cache(c)
  return string.format('{"HIT": %d, "MISS": %d, "STALE": %d, "BYPASS": %d}', c.HIT, c.MISS, c.STALE, c.BYPASS)
end

function done(summary, latency, requests)
  local total = { HIT = 0, MISS = 0, STALE = 0, BYPASS = 0, client_errors = 0, server_errors = 0 }
  local groups, names = {}, {}
  for _, thread in ipairs(threads) do
    local name = thread:get("group")
    if name and not groups[name] then
      groups[name] = { HIT = 0, MISS = 0, STALE = 0, BYPASS = 0 }
      names[#names + 1] = name
    end
    for key, value in pairs(thread:get("counts")) do
      total[key] = total[key] + value
      if name and groups[name][key] then groups[name][key] = groups[name][key] + value end
    end
  end
  local by_group = {}
  for _, name in ipairs(names) do by_group[#by_group + 1] = string.format('"%s": %s', name, x_cache(groups[name])) end
  local e = summary.errors
  io.write(string.format('{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "socket_errors": %d, '
    .. '"client_errors": %d, "server_errors": %d, "x_cache": %s, "x_cache_by_group": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout, total.client_errors, total.server_errors,
    x_cache(total), table.concat(by_group, ", ")))
end
