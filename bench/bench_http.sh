#!/bin/sh
# The HTTP benchmark (docs/benchmarks.md, "HTTP server"): wrk on loopback,
# keep-alive, 2 client threads, 32 connections, against
#   1. bench_ceiling: libmicrohttpd alone answering a fixed JSON body, started
#      as jcm serve starts its daemon (the ceiling of this machine);
#   2. jcm serve: GET /api/v1/queries/balance?account=… over random accounts;
#   3. jcm serve: POST /api/v1/commands/transfer between random accounts,
#      1..3 units; only 200s count as committed transfers.
# Prints requests/s, p50 and p99 latency and each figure's ratio to the
# ceiling, then stops the server and runs `jcm verify` on the store.
# Installs nothing: needs wrk, jq and curl (scripts/install-deps).
#
#   bench/bench_http.sh BUILD_DIR [WORK_DIR]
#   env: ACCOUNTS (1000), DURATION (15 s per figure), ROUNDS (3), WARMUP (3 s), CONNS (32), CLIENT_THREADS (2),
#        SERVER_THREADS (jcm serve's default when empty), SERVE_ARGS (extra jcm serve options)
set -eu
BUILD=$(cd "${1:?usage: bench_http.sh BUILD_DIR [WORK_DIR]}" && pwd)
WORK=${2:-$BUILD/bench-http}
HERE=$(cd "$(dirname "$0")" && pwd)
JCM=$BUILD/jcm CEIL=$BUILD/bench_ceiling
ACCOUNTS=${ACCOUNTS:-1000} DURATION=${DURATION:-15} WARMUP=${WARMUP:-3}
CONNS=${CONNS:-32} CLIENT_THREADS=${CLIENT_THREADS:-2} SERVER_THREADS=${SERVER_THREADS:-}
SERVE_ARGS=${SERVE_ARGS:-}
for t in wrk jq curl; do command -v $t >/dev/null || { echo "bench_http: needs $t (scripts/install-deps)"; exit 1; }; done
[ -x "$JCM" ] && [ -x "$CEIL" ] || { echo "bench_http: build jcm and bench_ceiling first"; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK"
DB=$WORK/bench.db
PID=""
cleanup() { [ -n "$PID" ] && kill $PID 2>/dev/null; true; }
trap cleanup EXIT INT TERM
j() { "$JCM" --db "$DB" "$@"; }
# apply ROLE: JSON lines from stdin, one transaction; fails on any refusal
apply() {
  JCM_ROLE=$1 "$JCM" --db "$DB" --json apply - --batch 100000 >"$WORK/apply.out" ||
    { echo "bench_http: setup refused:"; grep -m3 '"ok":false' "$WORK/apply.out"; exit 1; }
}

# ---- the store: ACCOUNTS holding accounts with 1,000 units each ----
echo "bench_http: building a store of $ACCOUNTS accounts in $WORK"
j init --registry THA01 --party THA --name "Thailand registry (HTTP benchmark)" >/dev/null
ORGS=20
i=0; while [ $i -lt $ORGS ]; do
  printf '{"cmd":"org.add","id":"org-%03d","name":"Organisation %d","country":"THA"}\n' $i $i; i=$((i + 1))
done | apply admin
i=0; while [ $i -lt "$ACCOUNTS" ]; do
  printf '{"cmd":"account.open","type":"holding","holder":"org-%03d","name":"Account %d"}\n' $((i % ORGS)) $i
  i=$((i + 1))
done | apply admin
jq -r .result.account "$WORK/apply.out" >"$WORK/accounts.txt"
[ "$(wc -l <"$WORK/accounts.txt")" -eq "$ACCOUNTS" ] || { echo "bench_http: account ids missing"; exit 1; }
# one project and period per 10 accounts; each issuance gives 10 accounts 1,000 units
NISS=$(((ACCOUNTS + 9) / 10))
i=1; while [ $i -le $NISS ]; do
  printf '{"cmd":"project.import","project":"TH%03d","title":"Project %d","host":"THA","status":"registered","source":"bench_http"}\n' $i $i
  i=$((i + 1))
done | apply admin
i=1; while [ $i -le $NISS ]; do
  printf '{"cmd":"monitoring.submit","project":"TH%03d","first_day":"2024-01-01","last_day":"2024-12-31","calculated":10000}\n' $i
  i=$((i + 1))
done | apply jc_secretariat
i=1; while [ $i -le $NISS ]; do
  printf '{"cmd":"monitoring.verify","project":"TH%03d","first_day":"2024-01-01","last_day":"2024-12-31","verified":10000,"report":"verification %d"}\n' $i $i
  i=$((i + 1))
done | apply tpe
awk -v n="$NISS" '{ a[NR] = $0 } END {
  for (i = 1; i <= n; i++) {
    k = 0; s = ""
    for (m = 1; m <= 10; m++) if ((x = (i - 1) * 10 + m) in a) s = s (k++ ? "," : "") "{\"account\":\"" a[x] "\",\"quantity\":1000}"
    printf "{\"cmd\":\"issue\",\"meeting\":50,\"date\":\"2025-10-30\",\"project\":\"TH%03d\",\"first_day\":\"2024-01-01\",\"last_day\":\"2024-12-31\",\"total\":%d,\"allocation\":[%s]}\n", i, k * 1000, s
  } }' "$WORK/accounts.txt" | apply jc_secretariat
j user add bench-admin --role admin >/dev/null
TOKEN=$(j token create bench-admin | head -1)
case $TOKEN in jcm_*) ;; *) echo "bench_http: no token"; exit 1 ;; esac

# ---- wrk ----
# The machine is shared: the three figures are measured in ROUNDS rounds,
# each of ceiling, balance, transfer in turn (DURATION / ROUNDS seconds
# each), so that every ratio compares runs made a few seconds apart.
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run NAME PID URL SCRIPT SECONDS: appends its JCMBENCH line, with the server's CPU ticks, to $WORK/NAME.rounds
run() {
  name=$1 pid=$2 url=$3 script=$4 secs=$5
  c0=$(cpu_ticks "$pid")
  wrk -t "$CLIENT_THREADS" -c "$CONNS" -d "${secs}s" --latency -s "$script" "$url" >"$WORK/$name.wrk" 2>&1 || true
  c1=$(cpu_ticks "$pid")
  line=$(grep '^JCMBENCH' "$WORK/$name.wrk") || { cat "$WORK/$name.wrk"; exit 1; }
  echo "$line ticks=$((c1 - c0))" >>"$WORK/$name.rounds"
}
wait_port() { # wait_port FILE: the port once written
  n=0
  while [ ! -s "$1" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  [ -s "$1" ] || { echo "bench_http: server did not start"; exit 1; }
  cat "$1"
}
export JCM_BENCH_ACCOUNTS="$WORK/accounts.txt" JCM_BENCH_TOKEN="$TOKEN"

T=${SERVER_THREADS:-4} # jcm serve's default (src/cli/serve.c)
ROUNDS=${ROUNDS:-3}
"$CEIL" --threads "$T" --port-file "$WORK/ceiling.port" 2>"$WORK/ceiling.err" &
CPID=$!
PID=$CPID
CU=http://127.0.0.1:$(wait_port "$WORK/ceiling.port")/
# shellcheck disable=SC2086
"$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$WORK/serve.port" --threads "$T" --rate 0 \
  --access-log "$WORK/access.log" --web "" $SERVE_ARGS 2>"$WORK/serve.err" &
SPID=$!
PID="$CPID $SPID"
U=http://127.0.0.1:$(wait_port "$WORK/serve.port")
A1=$(head -1 "$WORK/accounts.txt")
curl -sf -H "Authorization: Bearer $TOKEN" "$U/api/v1/queries/balance?account=$A1" >/dev/null ||
  { echo "bench_http: the balance query fails"; exit 1; }
echo "bench_http: $T server threads; wrk -t$CLIENT_THREADS -c$CONNS; ${WARMUP}s warm-up each, then $ROUNDS rounds" \
  "of $((DURATION / ROUNDS))s each (ceiling, then the figure)"
rm -f "$WORK"/*.rounds
run warmup "$CPID" "$CU" "$HERE/wrk_get.lua" "$WARMUP"
run warmup "$SPID" "$U/" "$HERE/wrk_balance.lua" "$WARMUP"
# phase A: balance on the store as built (one block per account); phase B:
# transfers; phase C: one round of balance again, on the store the transfers
# left (accounts hold many blocks: the query sums them)
r=1
while [ $r -le "$ROUNDS" ]; do
  run ceiling_a "$CPID" "$CU" "$HERE/wrk_get.lua" $((DURATION / ROUNDS))
  run balance "$SPID" "$U/" "$HERE/wrk_balance.lua" $((DURATION / ROUNDS))
  r=$((r + 1))
done
run warmup "$SPID" "$U/" "$HERE/wrk_transfer.lua" "$WARMUP"
WARM_OK=$(sed -n '3s/.* ok=\([0-9]*\).*/\1/p' "$WORK/warmup.rounds")
r=1
while [ $r -le "$ROUNDS" ]; do
  run ceiling_b "$CPID" "$CU" "$HERE/wrk_get.lua" $((DURATION / ROUNDS))
  run transfer "$SPID" "$U/" "$HERE/wrk_transfer.lua" $((DURATION / ROUNDS))
  r=$((r + 1))
done
run ceiling_c "$CPID" "$CU" "$HERE/wrk_get.lua" $((DURATION / ROUNDS))
run balance_after "$SPID" "$U/" "$HERE/wrk_balance.lua" $((DURATION / ROUNDS))
cat "$WORK/ceiling_a.rounds" "$WORK/ceiling_b.rounds" "$WORK/ceiling_c.rounds" >"$WORK/ceiling.rounds"
kill -TERM $CPID $SPID
wait $CPID || true
wait $SPID || true
PID=""

# ---- the figures ----
# median NAME KEY: the median over the rounds of KEY's values
median() {
  sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$WORK/$1.rounds" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
# sum NAME: requests ok other errors seconds ticks p50 p99 over the rounds (p50, p99: medians)
sum() {
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    rq += v["requests"]; ok += v["ok"]; ot += v["other"]; er += v["errors"]; sec += v["requests"] / v["rps"]
    tk += v["ticks"] } END { printf "%d %d %d %d %.3f %d", rq, ok, ot, er, sec, tk }' "$WORK/$1.rounds"
  echo " $(median "$1" p50_us) $(median "$1" p99_us)"
}
# ratios NAME CEILING: the per-round ratios of NAME's requests/s to the ceiling's run just before, in %
ratios() {
  paste -d' ' "$WORK/$1.rounds" "$WORK/$2.rounds" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "=");
    if (kv[1] == "rps") r[++k] = kv[2] } printf "%s%.1f", (NR > 1 ? " " : ""), 100 * r[1] / r[2]; k = 0 }'
}
echo
printf '%-28s %11s %10s %8s %8s %9s %-20s %9s\n' figure "requests/s" "200s/s" "p50 ms" "p99 ms" "ceiling" "(per round)" "us/req"
for n in ceiling balance transfer balance_after; do
  set -- $(sum $n)
  case $n in
  ceiling) label="ceiling (fixed JSON)" c=ceiling ;;
  balance) label="GET balance" c=ceiling_a ;;
  transfer) label="POST transfer" c=ceiling_b ;;
  *) label="GET balance, after transfers" c=ceiling_c ;;
  esac
  CEIL_RPS=$(sum $c | awk '{ print $1 / $5 }')
  awk -v l="$label" -v rq="$1" -v ok="$2" -v s="$5" -v tk="$6" -v a="$7" -v b="$8" -v c="$CEIL_RPS" -v hz="$HZ" \
    -v pr="$([ $n = ceiling ] || ratios $n $c)" 'BEGIN { printf "%-28s %11.0f %10.0f %8.2f %8.2f %8.1f%% %-20s %9.1f\n", l, rq / s, ok / s,
      a / 1000, b / 1000, 100 * rq / s / c, (pr == "" ? "" : "(" pr ")"), tk * 1e6 / hz / rq }'
  eval "N_$n=\"$*\""
done
echo "(ceiling: each figure against the ceiling runs interleaved with it; p50/p99: the median of the rounds; us/req: the server's CPU time, user + system, per request;" \
  "non-200s: balance $(echo "$N_balance" | cut -d' ' -f3), transfer $(echo "$N_transfer" | cut -d' ' -f3);" \
  "socket errors: $(echo "$N_ceiling" | cut -d' ' -f4) / $(echo "$N_balance" | cut -d' ' -f4) / $(echo "$N_transfer" | cut -d' ' -f4))"
grep 'commands in' "$WORK/serve.err" || true
OK_ALL=$(($(echo "$N_transfer" | cut -d' ' -f2) + WARM_OK))
JOURNALED=$(sqlite3 "$DB" "SELECT count(*) FROM journal WHERE cmd = 'transfer'")
echo "transfers answered 200 (warm-up included): $OK_ALL; in the journal: $JOURNALED"
# wrk stops with up to CONNS requests in flight at the end of each run: the
# server still commits those, so the journal may hold that many more per run
[ "$JOURNALED" -ge "$OK_ALL" ] && [ "$JOURNALED" -le $((OK_ALL + (ROUNDS + 1) * CONNS)) ] ||
  { echo "bench_http: 200s and journaled transfers disagree"; exit 1; }
if j verify >"$WORK/verify.out" 2>&1; then echo "jcm verify: ok ($(head -1 "$WORK/verify.out"))"; else
  echo "bench_http: jcm verify FAILED"; cat "$WORK/verify.out"; exit 1
fi
