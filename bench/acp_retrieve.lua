-- wrk script: RETRIEVE (GET) of one contentInstance from Warden by an originator that only the LAST rule
-- of a 10-rule accessControlPolicy admits (bench/run.sh run "acp_retrieve"; same requests as retrieve.lua).
-- Env: WARDEN_BENCH_PATH (resource path, default: the URL's path), WARDEN_BENCH_ORIGIN (default Creader),
-- WARDEN_BENCH_AUTH (an Authorization header: the tokens of bench/authz.sh; default none).
-- Every request carries a distinct X-M2M-RI ("<thread>-<n>"); prints a WRK_RESULT line for bench/run.sh.

local path   = os.getenv("WARDEN_BENCH_PATH") or wrk.path
local origin = os.getenv("WARDEN_BENCH_ORIGIN") or "Creader"
local auth   = os.getenv("WARDEN_BENCH_AUTH")
local MARK   = "\0RI\0"

local threads = {}
function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local prefix, suffix, n, tag
function init(args)
   local headers = {
      ["X-M2M-Origin"] = origin,
      ["X-M2M-RI"]     = MARK,
      ["X-M2M-RVI"]    = "3",
      ["Accept"]       = "application/json",
   }
   if auth and auth ~= "" then headers["Authorization"] = auth end
   local req = wrk.format("GET", path, headers)
   local i, j = string.find(req, MARK, 1, true)
   prefix, suffix = string.sub(req, 1, i - 1), string.sub(req, j + 1)
   tag, n = "a" .. tostring(tid or 1) .. "-", 0
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
