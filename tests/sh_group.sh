#!/bin/sh
# Group commit (docs/server.md, "Group commit"): concurrent transfers through
# jcm serve's writer all commit or are refused exactly as they would be alone.
# Account A holds 100 units; 30 concurrent requests each move 5 of them to B,
# so exactly 20 commit and 10 are refused (not enough units), whatever the
# grouping; among them, refusals of other kinds (a zero quantity, another
# holder's account) leave no trace either. Then the balances, the journal's
# transfer count and `jcm verify` must agree. No timing is asserted.
set -u
JCM=$1; TMP=$2/sh_group
command -v curl >/dev/null && command -v jq >/dev/null || { echo "sh_group: needs curl and jq"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP"
DB=$TMP/group.db
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
j() { "$JCM" --db "$DB" "$@"; }

j init --registry THA01 --party THA --name "Thailand registry" >/dev/null
j org add --id org-a --name A --country THA >/dev/null
j org add --id org-b --name B --country THA >/dev/null
A=$(j --json account open --type holding --holder org-a --name A | jq -r .result.account)
B=$(j --json account open --type holding --holder org-b --name B | jq -r .result.account)
j project import --project TH001 --title "Project" --host THA --status registered --source test >/dev/null
printf '%s\n' '{"cmd":"monitoring.submit","project":"TH001","first_day":"2024-01-01","last_day":"2024-12-31","calculated":100}' |
  JCM_ROLE=jc_secretariat "$JCM" --db "$DB" apply - >/dev/null || fail "monitoring.submit"
printf '%s\n' '{"cmd":"monitoring.verify","project":"TH001","first_day":"2024-01-01","last_day":"2024-12-31","verified":100,"report":"r"}' |
  JCM_ROLE=tpe "$JCM" --db "$DB" apply - >/dev/null || fail "monitoring.verify"
printf '{"cmd":"issue","meeting":50,"date":"2025-10-30","project":"TH001","first_day":"2024-01-01","last_day":"2024-12-31","total":100,"allocation":[{"account":"%s","quantity":100}]}\n' "$A" |
  JCM_ROLE=jc_secretariat "$JCM" --db "$DB" apply - >/dev/null || fail "issue"
j user add root --role admin >/dev/null || fail "user add root"
j user add hb --role holder --org org-b >/dev/null || fail "user add hb"
T=$(j token create root | head -1) TB=$(j token create hb | head -1)

rm -f "$TMP/port"
"$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$TMP/port" --access-log "$TMP/access.log" --rate 0 \
  --threads 2 --web "" 2>"$TMP/serve.err" &
PID=$!
n=0
while [ ! -s "$TMP/port" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
[ -s "$TMP/port" ] || { echo "FAIL: server did not start"; cat "$TMP/serve.err"; kill $PID; exit 1; }
U=http://127.0.0.1:$(cat "$TMP/port")

# 30 transfers of 5 from A (100 units) + 3 refused otherwise, all at once
i=0
while [ $i -lt 36 ]; do
  case $i in
  30 | 31) echo "$T {\"from\":\"$A\",\"to\":\"$B\",\"quantity\":0}" ;;  # refused: quantity
  32 | 33) echo "$TB {\"from\":\"$A\",\"to\":\"$B\",\"quantity\":1}" ;; # refused: another holder's
  34 | 35) echo "$T {\"from\":\"$B\",\"to\":\"$A\",\"quantity\":1000}" ;; # refused: B never holds 1000
  *) echo "$T {\"from\":\"$A\",\"to\":\"$B\",\"quantity\":5}" ;;
  esac
  i=$((i + 1))
done >"$TMP/requests"
n=0
while read -r tok body; do
  n=$((n + 1))
  curl -s -o "$TMP/r$n.json" -w '%{http_code}\n' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    --data-binary "$body" "$U/api/v1/commands/transfer" >"$TMP/c$n" &
done <"$TMP/requests"
wait_curls() { for f in $(seq 1 36); do m=0; while [ ! -s "$TMP/c$f" ] && [ $m -lt 600 ]; do sleep 0.1; m=$((m + 1)); done; done; }
wait_curls
ok=$(cat "$TMP"/c* | grep -c '^200$')
r422=$(cat "$TMP"/c* | grep -c '^422$')
r403=$(cat "$TMP"/c* | grep -c '^403$')
[ "$ok" -eq 20 ] || fail "$ok transfers committed, want 20"
[ "$r422" -eq 14 ] || fail "$r422 refused with 422, want 14 (10 short of units, 2 zero, 2 over B's balance)"
[ "$r403" -eq 2 ] || fail "$r403 refused with 403, want 2"
# every 200 is a committed transfer with its own journal seq; every refusal has an error object
seqs=$(for f in "$TMP"/r*.json; do jq -r 'select(.ok == true) | .seq' "$f"; done | sort -u | wc -l)
[ "$seqs" -eq 20 ] || fail "$seqs distinct journal seqs among the 200s, want 20"
# the access log is buffered (src/server/accesslog.c) but written within 200 ms,
# while the server runs: every one of the 36 requests is there a moment later
sleep 1
logged=$(grep -c '"route":"commands"' "$TMP/access.log")
[ "$logged" -eq 36 ] || fail "$logged command requests in the access log while serving, want 36"
for f in "$TMP"/r*.json; do jq -e '.ok == true or (.error.code | type == "number")' "$f" >/dev/null || fail "answer $f"; done

bal() { curl -s -H "Authorization: Bearer $T" "$U/api/v1/queries/balance?account=$1" | jq -r "[.rows[].quantity] | add // 0"; }
[ "$(bal "$A")" = 0 ] || fail "A holds $(bal "$A"), want 0"
[ "$(bal "$B")" = 100 ] || fail "B holds $(bal "$B"), want 100"
# a single request (nothing to group with) is answered as well
code=$(curl -s -o "$TMP/one.json" -w '%{http_code}' -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
  --data-binary "{\"from\":\"$B\",\"to\":\"$A\",\"quantity\":1}" "$U/api/v1/commands/transfer")
[ "$code" = 200 ] || fail "a lone transfer: HTTP $code"

kill -TERM $PID; wait $PID || fail "serve exited non-zero"
grep -q 'commands in [0-9]* commits' "$TMP/serve.err" || fail "the writer did not report its commits"
cnt=$(sqlite3 "$DB" "SELECT count(*) FROM journal WHERE cmd = 'transfer'")
[ "$cnt" -eq 21 ] || fail "$cnt transfers journaled, want 21 (refusals must leave no trace)"
j verify >"$TMP/verify.out" 2>&1 || { fail "jcm verify"; cat "$TMP/verify.out"; }
# a server started on a store not yet initialized: `jcm init` from the command
# line meanwhile, then a command through the writer (opened before init) commits
DB2=$TMP/late.db
rm -f "$TMP/port2"
"$JCM" --db "$DB2" serve --listen 127.0.0.1:0 --port-file "$TMP/port2" --access-log "$TMP/access2.log" --rate 0 \
  --threads 1 --web "" 2>"$TMP/serve2.err" &
PID=$!
n=0
while [ ! -s "$TMP/port2" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
"$JCM" --db "$DB2" init --registry THA01 --party THA --name "Thailand registry" >/dev/null || fail "late init"
"$JCM" --db "$DB2" user add root --role admin >/dev/null || fail "late user add"
T2=$("$JCM" --db "$DB2" token create root | head -1)
code=$(curl -s -o "$TMP/late.json" -w '%{http_code}' -H "Authorization: Bearer $T2" -H 'Content-Type: application/json' \
  --data-binary '{"id":"org-late","name":"Late","country":"THA"}' "http://127.0.0.1:$(cat "$TMP/port2")/api/v1/commands/org.add")
[ "$code" = 200 ] || fail "a command after a late init: HTTP $code $(cat "$TMP/late.json")"
kill -TERM $PID; wait $PID || fail "the second server exited non-zero"

# Early commit (src/server/group.c): a group's requests are answered only after
# the syncer's fdatasync, and a read answers only once what it could see is
# durable. The test server waits 3 s before each fdatasync (a test aid), so a
# balance read 0.5 s after a transfer was submitted must not come back within
# 1.5 s showing the transfer: it either shows the old balance or is still
# waiting when curl gives up. Without the read barrier it shows the new one.
start_server() {
  rm -f "$TMP/port3"
  env "$@" "$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$TMP/port3" --access-log "$TMP/access3.log" \
    --rate 0 --threads 2 --web "" 2>>"$TMP/serve3.err" &
  PID=$!
  n=0
  while [ ! -s "$TMP/port3" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  U=http://127.0.0.1:$(cat "$TMP/port3")
}
start_server JCM_TEST_SYNC_DELAY_MS=3000
a0=$(bal "$A")
curl -s -o "$TMP/slow.json" -w '%{http_code}' -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
  --data-binary "{\"from\":\"$B\",\"to\":\"$A\",\"quantity\":5}" "$U/api/v1/commands/transfer" >"$TMP/slow.code" &
CP=$!
sleep 0.5
early=$(curl -s --max-time 1.5 -H "Authorization: Bearer $T" "$U/api/v1/queries/balance?account=$A" |
  jq -r "[.rows[].quantity] | add // 0" 2>/dev/null)
[ -z "$early" ] || [ "$early" = "$a0" ] || fail "a read showed A holding $early before the transfer was durable (was $a0)"
wait $CP
[ "$(cat "$TMP/slow.code")" = 200 ] || fail "the slow-synced transfer: HTTP $(cat "$TMP/slow.code")"
[ "$(bal "$A")" = $((a0 + 5)) ] || fail "A holds $(bal "$A") after the transfer, want $((a0 + 5))"
kill -TERM $PID; wait $PID || fail "the slow-sync server exited non-zero"

# SIGTERM while transfers wait on slow syncs: the server answers every request
# it took (200, or 5xx if refused while stopping), exits 0 (it would abort if a
# connection were left suspended), and every 200 is in the journal.
start_server JCM_TEST_SYNC_DELAY_MS=300
i=0
while [ $i -lt 20 ]; do
  i=$((i + 1))
  curl -s -o "$TMP/t$i.json" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $T" \
    -H 'Content-Type: application/json' --data-binary "{\"from\":\"$B\",\"to\":\"$A\",\"quantity\":1}" \
    "$U/api/v1/commands/transfer" >"$TMP/t$i.code" &
done
sleep 0.3
kill -TERM $PID
wait $PID || fail "the server exited non-zero on SIGTERM with transfers waiting"
wait
i=0
while [ $i -lt 20 ]; do
  i=$((i + 1))
  code=$(cat "$TMP/t$i.code")
  case $code in
  200)
    seq=$(jq -r .seq "$TMP/t$i.json")
    [ "$(sqlite3 "$DB" "SELECT count(*) FROM journal WHERE seq = $seq AND cmd = 'transfer'")" = 1 ] ||
      fail "transfer answered 200 with seq $seq before SIGTERM is not in the journal" ;;
  5??) ;;
  000) ;; # not yet accepted when the server stopped listening
  *) fail "a transfer during SIGTERM got HTTP $code" ;;
  esac
done

# SIGKILL while transfers flow: every transfer answered 200 is in the journal
# (answered only after its commit), and the store verifies.
start_server
i=0
while [ $i -lt 40 ]; do
  i=$((i + 1))
  curl -s -o "$TMP/k$i.json" -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
    --data-binary "{\"from\":\"$B\",\"to\":\"$A\",\"quantity\":1}" "$U/api/v1/commands/transfer" &
  [ $i -eq 20 ] && sleep 0.05
done
kill -KILL $PID
wait
for f in "$TMP"/k*.json; do
  seq=$(jq -r 'select(.ok == true) | .seq' "$f" 2>/dev/null)
  [ -z "$seq" ] && continue
  in=$(sqlite3 "$DB" "SELECT count(*) FROM journal WHERE seq = $seq AND cmd = 'transfer'")
  [ "$in" = 1 ] || fail "transfer answered with seq $seq is not in the journal after SIGKILL"
done
j verify >"$TMP/verify2.out" 2>&1 || { fail "jcm verify after SIGKILL"; cat "$TMP/verify2.out"; }

[ $fails -eq 0 ] && echo "sh_group: ok ($(grep 'commands in' "$TMP/serve.err"))"
exit $((fails > 0))
