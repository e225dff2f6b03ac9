-- wrk script: a request of one of the resource types beside contentInstance, for the ratios of bench/run.sh
-- (issue 17): WARDEN_BENCH_KIND=tsi  CREATE (POST ty=30) of a timeSeriesInstance of ~100 bytes, each with a
--                                    dataGenerationTime of its own (a series refuses a repeated one: 4105);
--                                fcnt UPDATE (PUT) of a cod:tempe flexContainer's currentTemperature.
-- Env: WARDEN_BENCH_PATH (timeSeries or flexContainer path), WARDEN_BENCH_ORIGIN (default Cbench).
-- Responses with status >= 400 are counted by wrk (non2xx in the WRK_RESULT line) and fail bench/run.sh.

local path   = os.getenv("WARDEN_BENCH_PATH") or wrk.path
local origin = os.getenv("WARDEN_BENCH_ORIGIN") or "Cbench"
local kind   = os.getenv("WARDEN_BENCH_KIND") or "tsi"
local CON    = "temperature=21.5;humidity=40;pressure=1013;sensor=bench-0001;seq=0000000000;pad=xxxxxxxxxxxxxxxxxxxx"
-- dataGenerationTimes from 2030-01-01 on, one millisecond apart per request, 10^8 ms apart per thread
local BASE   = 1893456000

local threads = {}
function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local n, tag, method, ctype
function init(args)
   tag, n = "w" .. tostring(tid or 1) .. "-", 0
   if kind == "tsi" then
      method, ctype = "POST", "application/json;ty=30"
   else
      method, ctype = "PUT", "application/json"
   end
end

function request()
   n = n + 1
   local body
   if kind == "tsi" then
      local ms = (tid or 1) * 100000000 + n
      local dgt = os.date("!%Y%m%dT%H%M%S", BASE + math.floor(ms / 1000)) .. string.format(",%03d", ms % 1000)
      body = '{"m2m:tsi":{"dgt":"' .. dgt .. '","con":"' .. CON .. '"}}'
   else
      body = '{"cod:tempe":{"curT0":' .. string.format("%.1f", 15 + (n % 100) / 10) .. '}}'
   end
   return wrk.format(method, path, {
      ["X-M2M-Origin"] = origin,
      ["X-M2M-RI"]     = tag .. n,
      ["X-M2M-RVI"]    = "3",
      ["Accept"]       = "application/json",
      ["Content-Type"] = ctype,
   }, body)
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
