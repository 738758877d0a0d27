-- GET /api/v1/queries/balance?account=… over random accounts, as the admin.
dofile((debug.getinfo(1, "S").source:match("@(.*/)") or "") .. "wrk_common.lua")
local acc, auth
function init(args)
  acc = accounts()
  auth = { ["Authorization"] = "Bearer " .. os.getenv("JCM_BENCH_TOKEN") }
  math.randomseed(os.time() * 100 + seed)
end
function request()
  return wrk.format("GET", "/api/v1/queries/balance?account=" .. acc[math.random(#acc)], auth)
end
