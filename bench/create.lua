-- wrk script: CREATE (POST ty=4) of a ~100-byte contentInstance into one Warden container.
-- Env: WARDEN_BENCH_PATH (container path, default: the URL's path), WARDEN_BENCH_ORIGIN (default Cbench).
-- Responses with status >= 400 are counted by wrk (non2xx in the WRK_RESULT line) and fail bench/run.sh.
-- The container should have a small mni (run.sh uses 100) so the store stays bounded.

local path   = os.getenv("WARDEN_BENCH_PATH") or wrk.path
local origin = os.getenv("WARDEN_BENCH_ORIGIN") or "Cbench"
local MARK   = "\0RI\0"
-- 100 bytes of content
local CON    = "temperature=21.5;humidity=40;pressure=1013;sensor=bench-0001;seq=0000000000;pad=xxxxxxxxxxxxxxxxxxxx"
local BODY   = '{"m2m:cin":{"con":"' .. CON .. '"}}'

local threads = {}
function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local prefix, suffix, n, tag
function init(args)
   local req = wrk.format("POST", path, {
      ["X-M2M-Origin"] = origin,
      ["X-M2M-RI"]     = MARK,
      ["X-M2M-RVI"]    = "3",
      ["Accept"]       = "application/json",
      ["Content-Type"] = "application/json;ty=4",
   }, BODY)
   local i, j = string.find(req, MARK, 1, true)
   prefix, suffix = string.sub(req, 1, i - 1), string.sub(req, j + 1)
   tag, n = "w" .. tostring(tid or 1) .. "-", 0
end

function request()
   n = n + 1
   return prefix .. tag .. n .. suffix
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d mean_us=%.0f max_us=%d " ..
      "non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
