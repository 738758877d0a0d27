-- POST /api/v1/commands/transfer: 1..3 units between two random accounts, as
-- the admin. A refusal (say, a source run dry) is a non-200 and not counted.
dofile((debug.getinfo(1, "S").source:match("@(.*/)") or "") .. "wrk_common.lua")
local acc, hdr
function init(args)
  acc = accounts()
  hdr = { ["Authorization"] = "Bearer " .. os.getenv("JCM_BENCH_TOKEN"), ["Content-Type"] = "application/json" }
  math.randomseed(os.time() * 100 + seed)
end
function request()
  local a, b = math.random(#acc), math.random(#acc - 1)
  if b >= a then b = b + 1 end
  local body = string.format('{"from":"%s","to":"%s","quantity":%d}', acc[a], acc[b], math.random(3))
  return wrk.format("POST", "/api/v1/commands/transfer", hdr, body)
end
