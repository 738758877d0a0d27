-- The ceiling: GET / (a fixed JSON body).
dofile((debug.getinfo(1, "S").source:match("@(.*/)") or "") .. "wrk_common.lua")
