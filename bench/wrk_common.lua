-- Shared by the wrk scripts of bench_http.sh: counts 200s per thread and
-- prints one JCMBENCH line (requests/s, 200s/s, p50/p99 in µs) at the end.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end
ok, other = 0, 0
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, n = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); n = n + t:get("other") end
  local s = summary.duration / 1e6
  local e = summary.errors
  print(string.format("JCMBENCH requests=%d ok=%d other=%d errors=%d rps=%.1f okps=%.1f p50_us=%d p99_us=%d",
    summary.requests, o, n, e.connect + e.read + e.write + e.timeout, summary.requests / s, o / s,
    latency:percentile(50), latency:percentile(99)))
end
function accounts()
  local a = {}
  for line in io.lines(os.getenv("JCM_BENCH_ACCOUNTS")) do a[#a + 1] = line end
  return a
end
