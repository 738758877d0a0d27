#!/bin/sh
# Crash safety of jcm apply: a long stream of commands is killed with SIGKILL
# at several points and batch sizes. After each kill, jcm verify passes,
# every result line that was printed is in the journal with the same hash,
# and re-running the whole stream (idempotency keys) gives the same results
# for what was committed and completes the rest.
set -eu
JCM=$1; TMP=$2
DB=$TMP/sh_crash.db
W=$TMP/sh_crash
rm -rf "$W" "$DB" "$DB-wal" "$DB-shm"
mkdir -p "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }
j() { "$JCM" --db "$DB" "$@"; }
acct() { j --json account open --type holding --holder org-a --name "$1" | sed 's/.*"account":"\([^"]*\)".*/\1/'; }

j init --registry THA01 --party THA --name "Thailand registry" >/dev/null
j org add --id org-a --name "Org A" --country THA >/dev/null
A=$(acct A); B=$(acct B); C=$(acct C); D=$(acct D)
j project import --project TH014 --title "Floating solar" --host THA --status registered --source test >/dev/null
j monitoring submit --project TH014 --first-day 2021-01-01 --last-day 2021-12-31 --calculated 1000000 >/dev/null
j --actor tpe --role tpe monitoring verify --project TH014 --first-day 2021-01-01 --last-day 2021-12-31 \
  --verified 1000000 --report r >/dev/null
j issue --meeting 1 --date 2025-01-01 --project TH014 --first-day 2021-01-01 --last-day 2021-12-31 --total 1000000 \
  --allocation "$A=400000" --allocation "$B=300000" --allocation "$C=200000" --allocation "$D=100000" >/dev/null

# Journal as "seq hash" lines.
journal() { sqlite3 "$DB" "SELECT seq || ' ' || lower(hex(hash)) FROM journal ORDER BY seq"; }
# whole lines only: a kill can cut the last line short (a batch of 1,000 results is
# written in many pieces), and a result is printed when its line is
whole() { if [ -n "$(tail -c1 "$1")" ]; then sed '$d' "$1"; else cat "$1"; fi; }
printed() { whole "$1" | grep '"ok":true' | sed 's/.*"hash":"\([0-9a-f]*\)".*"seq":\([0-9]*\).*/\2 \1/'; }

round=0
for spec in "1 0.3" "10 0.5" "100 0.7" "7 0.2" "1000 0.4"; do
  round=$((round + 1))
  batch=${spec% *}; delay=${spec#* }
  in=$W/in$round.jsonl
  i=0
  while [ $i -lt 6000 ]; do
    case $((i % 4)) in 0) f=$A t=$B ;; 1) f=$B t=$C ;; 2) f=$C t=$D ;; *) f=$D t=$A ;; esac
    printf '{"cmd":"transfer","from":"%s","to":"%s","quantity":%d,"key":"r%d-%d"}\n' "$f" "$t" $((i % 5 + 1)) $round $i
    i=$((i + 1))
  done >"$in"
  "$JCM" --db "$DB" apply "$in" --batch "$batch" >"$W/out$round" 2>"$W/err$round" &
  pid=$!
  sleep "$delay"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  n=$(grep -c '"ok":true' "$W/out$round" || true)
  j verify >"$W/verify$round" || fail "round $round: verify after kill: $(cat "$W/verify$round")"
  journal >"$W/journal$round"
  printed "$W/out$round" >"$W/printed$round"
  missing=$(grep -vxFf "$W/journal$round" "$W/printed$round" | head -1 || true)
  [ -z "$missing" ] || fail "round $round: printed but not in the store: $missing"
  # Re-run the same stream: what was committed answers the same, the rest completes.
  "$JCM" --db "$DB" apply "$in" --batch "$batch" >"$W/rerun$round" || fail "round $round: rerun refused something"
  [ "$(grep -c '"ok":true' "$W/rerun$round")" -eq 6000 ] || fail "round $round: rerun incomplete"
  printed "$W/rerun$round" | head -n "$(wc -l <"$W/printed$round")" >"$W/rerun-head$round"
  cmp -s "$W/printed$round" "$W/rerun-head$round" || fail "round $round: replayed keys answered differently"
  j verify >/dev/null || fail "round $round: verify after rerun"
  echo "round $round: batch $batch, killed after ${delay}s with $n results printed; verify ok"
done

# A failed fdatasync (made to fail by the test hook) leaves it unknown what
# reached the disk: jcm apply prints no result of a batch the sync was for,
# says why, and exits 2. The batches did commit, so the store verifies.
for batch in 1 10; do
  in=$W/sync$batch.jsonl
  i=0
  while [ $i -lt 40 ]; do
    printf '{"cmd":"transfer","from":"%s","to":"%s","quantity":1,"key":"s%d-%d"}\n' "$A" "$B" "$batch" $i
    i=$((i + 1))
  done >"$in"
  set +e
  JCM_TEST_SYNC_FAIL_AFTER=0 "$JCM" --db "$DB" apply "$in" --batch $batch >"$W/sync-out$batch" 2>"$W/sync-err$batch"
  st=$?
  set -e
  [ $st -eq 2 ] || fail "failed sync, batch $batch: exit $st, not 2"
  [ ! -s "$W/sync-out$batch" ] || fail "failed sync, batch $batch: results printed: $(head -1 "$W/sync-out$batch")"
  grep -q 'fdatasync of the WAL failed' "$W/sync-err$batch" || fail "failed sync, batch $batch: no reason given"
  j verify >/dev/null || fail "failed sync, batch $batch: verify"
  "$JCM" --db "$DB" apply "$in" >"$W/sync-rerun$batch" || fail "failed sync, batch $batch: rerun refused something"
  [ "$(grep -c '"ok":true' "$W/sync-rerun$batch")" -eq 40 ] || fail "failed sync, batch $batch: rerun incomplete"
done
echo "a failed fdatasync: nothing printed, exit 2, the store verifies"

total=$(j --json balance | grep -o '"quantity":[0-9]*' | sed 's/.*://' | awk '{s += $1} END {print s}')
[ "$total" -eq 1000000 ] || fail "units not conserved: $total"
echo "1 passed, 0 failed"
