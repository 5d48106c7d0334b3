-- wrk script for the read-by-id workload (bench/read/read.mjs):
--   wrk ... -s ids.lua URL -- PATHS_FILE [TOKEN] [SEED]
-- Every request is a GET of a path drawn at random (seeded per thread) from
-- PATHS_FILE (one path a line, e.g. /Observation/p12-obs3); TOKEN, when given,
-- is sent as a bearer token (nginx ignores it). done() prints one JSON line.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

local paths = {}
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  wrk.headers["Accept"] = "application/fhir+json"
  if args[2] and #args[2] > 0 and args[2] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
  math.randomseed(tonumber(args[3] or "1") * 1000 + (thread_no or 0))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f, "stdev": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, latency.stdev))
end
