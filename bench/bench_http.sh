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
#   env: ACCOUNTS (1000), DURATION (15 s), WARMUP (3 s), CONNS (32), CLIENT_THREADS (2),
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
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; true; }
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
# run NAME URL SCRIPT: one warm-up, then the measured run; its JCMBENCH line to $WORK/NAME.txt
run() {
  name=$1 url=$2 script=$3
  wrk -t "$CLIENT_THREADS" -c "$CONNS" -d "${WARMUP}s" -s "$script" "$url" >"$WORK/$name.warmup" 2>&1 || true
  c0=$(cpu_ticks)
  wrk -t "$CLIENT_THREADS" -c "$CONNS" -d "${DURATION}s" --latency -s "$script" "$url" >"$WORK/$name.wrk" 2>&1
  c1=$(cpu_ticks)
  grep '^JCMBENCH' "$WORK/$name.wrk" >"$WORK/$name.txt" || { cat "$WORK/$name.wrk"; exit 1; }
  # the server's CPU time (user + system) per request: less noisy than requests/s on a shared machine
  sed -i "s/\$/ cpu_us=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v r="$(sed 's/.*requests=\([0-9]*\).*/\1/' \
    "$WORK/$name.txt")" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / r }')/" "$WORK/$name.txt"
}
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
wait_port() { # wait_port FILE: the port once written
  n=0
  while [ ! -s "$1" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  [ -s "$1" ] || { echo "bench_http: server did not start"; exit 1; }
  cat "$1"
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=""; }
export JCM_BENCH_ACCOUNTS="$WORK/accounts.txt" JCM_BENCH_TOKEN="$TOKEN"

T=${SERVER_THREADS:-4} # jcm serve's default (src/cli/serve.c)
"$CEIL" --threads "$T" --port-file "$WORK/ceiling.port" 2>"$WORK/ceiling.err" &
PID=$!
PORT=$(wait_port "$WORK/ceiling.port")
echo "bench_http: ceiling on port $PORT ($T threads); wrk -t$CLIENT_THREADS -c$CONNS, ${WARMUP}s warm-up + ${DURATION}s"
run ceiling "http://127.0.0.1:$PORT/" "$HERE/wrk_get.lua"
stop

# shellcheck disable=SC2086
"$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$WORK/serve.port" --threads "$T" --rate 0 \
  --access-log "$WORK/access.log" --web "" $SERVE_ARGS 2>"$WORK/serve.err" &
PID=$!
PORT=$(wait_port "$WORK/serve.port")
U=http://127.0.0.1:$PORT
A1=$(head -1 "$WORK/accounts.txt")
curl -sf -H "Authorization: Bearer $TOKEN" "$U/api/v1/queries/balance?account=$A1" >/dev/null ||
  { echo "bench_http: the balance query fails"; exit 1; }
run balance "$U/" "$HERE/wrk_balance.lua"
run transfer "$U/" "$HERE/wrk_transfer.lua"
stop

# ---- the figures ----
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$WORK/$1.txt"; }
CEIL_RPS=$(field ceiling rps)
echo
printf '%-28s %12s %12s %9s %9s %9s %12s\n' figure "requests/s" "200s/s" "p50 ms" "p99 ms" "ceiling" "server us/req"
for n in ceiling balance transfer; do
  rps=$(field $n rps) ok=$(field $n okps) p50=$(field $n p50_us) p99=$(field $n p99_us) cpu=$(field $n cpu_us)
  case $n in ceiling) label="ceiling (fixed JSON)" ;; balance) label="GET balance" ;; *) label="POST transfer (committed)" ;; esac
  awk -v l="$label" -v r="$rps" -v o="$ok" -v a="$p50" -v b="$p99" -v c="$CEIL_RPS" -v u="$cpu" \
    'BEGIN { printf "%-28s %12.0f %12.0f %9.2f %9.2f %8.1f%% %12.1f\n", l, r, o, a / 1000, b / 1000, 100 * r / c, u }'
done
grep 'commands in' "$WORK/serve.err" || true
echo "(non-200 answers: balance $(field balance other), transfer $(field transfer other);" \
  "socket errors: $(field balance errors) / $(field transfer errors))"
OK_ALL=$(($(field transfer ok) + $(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$WORK/transfer.warmup")))
JOURNALED=$(sqlite3 "$DB" "SELECT count(*) FROM journal WHERE cmd = 'transfer'")
echo "transfers answered 200 (warm-up included): $OK_ALL; in the journal: $JOURNALED"
# wrk stops with up to CONNS requests in flight in each of its two runs: the
# server still commits those, so the journal may hold up to 2 x CONNS more
[ "$JOURNALED" -ge "$OK_ALL" ] && [ "$JOURNALED" -le $((OK_ALL + 2 * CONNS)) ] ||
  { echo "bench_http: 200s and journaled transfers disagree"; exit 1; }
if j verify >"$WORK/verify.out" 2>&1; then echo "jcm verify: ok ($(head -1 "$WORK/verify.out"))"; else
  echo "bench_http: jcm verify FAILED"; cat "$WORK/verify.out"; exit 1
fi
