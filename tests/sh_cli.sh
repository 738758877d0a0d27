#!/bin/sh
# The jcm command's contract: exit status 0 done, 1 refused, 2 bad usage;
# --help everywhere; --json on every command; apply prints one JSON result
# per input line and exits 1 when any was refused.
set -u
JCM=$1; TMP=$2
DB=$TMP/sh_cli.db
rm -f "$DB" "$DB-wal" "$DB-shm"
fails=0
expect() { # expect STATUS DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$TMP/sh_cli.out" 2>"$TMP/sh_cli.err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; cat "$TMP/sh_cli.err"; fails=$((fails + 1))
  fi
}
j() { "$JCM" --db "$DB" "$@"; }

expect 0 "global help" -- "$JCM" --help
expect 2 "no command" -- "$JCM"
expect 2 "unknown command" -- j frobnicate
expect 2 "unknown global option" -- "$JCM" --frob
# every command the global help lists (so a new one cannot be forgotten here)
"$JCM" --help | awk '/^  [a-z]/ { w = substr($0, 3, 20); sub(/ +$/, "", w); print w }' >"$TMP/sh_cli.cmds"
[ "$(wc -l <"$TMP/sh_cli.cmds")" -gt 40 ] || { echo "FAIL: the global help lists too few commands"; fails=$((fails + 1)); }
while read -r c; do
  # shellcheck disable=SC2086
  expect 0 "$c --help" -- j $c --help </dev/null
  grep -q "usage: jcm" "$TMP/sh_cli.out" || { echo "FAIL: $c --help prints no usage"; fails=$((fails + 1)); }
done <"$TMP/sh_cli.cmds"
expect 2 "verify with a stray word" -- j verify extra
expect 2 "check-codes with a stray option" -- j check-codes --markdwon

expect 1 "command before init" -- j org add --id a --name A --country THA
grep -q "refused \[1014\]" "$TMP/sh_cli.err" || { echo "FAIL: 1014 not named"; fails=$((fails + 1)); }
expect 0 "init" -- j init --registry THA01 --party THA --name "Thailand registry"
expect 1 "init twice" -- j init --registry THA01 --party THA --name "Thailand registry"
expect 2 "unknown option of a command" -- j org add --id a --nmae A --country THA
expect 2 "option without a value" -- j org add --id
expect 0 "org add" -- j org add --id org-a --name "Org A" --country THA
expect 0 "account open, json" -- j --json account open --type holding --holder org-a --name A
grep -q '"ok":true' "$TMP/sh_cli.out" || { echo "FAIL: --json result"; fails=$((fails + 1)); }
expect 1 "mistyped account id" -- j account block --account THA01-100-000001-62 --reason r
grep -q "refused \[1011\]" "$TMP/sh_cli.err" || { echo "FAIL: 1011 not named"; fails=$((fails + 1)); }
expect 1 "quantity beyond 2^63" -- j transfer --from THA01-100-000001-61 --to THA01-100-000001-61 --quantity 99999999999999999999
grep -q "refused \[1004\]" "$TMP/sh_cli.err" || { echo "FAIL: 1004 not named"; fails=$((fails + 1)); }
expect 1 "role that may not" -- "$JCM" --db "$DB" --role auditor org add --id org-b --name B --country THA
expect 1 "unknown role" -- "$JCM" --db "$DB" --role king org add --id org-b --name B --country THA
expect 0 "query with --json" -- j --json account list
grep -q '"rows":\[' "$TMP/sh_cli.out" || { echo "FAIL: --json rows"; fails=$((fails + 1)); }
expect 1 "query refused" -- j statement THA01-100-000099-99
expect 0 "verify" -- j verify

printf '%s\n' '{"cmd":"org.add","id":"org-c","name":"C","country":"THA"}' 'not json' \
  '{"cmd":"org.add","id":"org-c","name":"C","country":"THA"}' '' '{"cmd":"nope"}' >"$TMP/sh_cli.jsonl"
expect 1 "apply with refusals" -- j apply "$TMP/sh_cli.jsonl"
[ "$(wc -l <"$TMP/sh_cli.out")" -eq 4 ] || { echo "FAIL: apply printed $(wc -l <"$TMP/sh_cli.out") lines, want 4"; fails=$((fails + 1)); }
codes=$(grep -o '"code":[0-9]*' "$TMP/sh_cli.out" | tr '\n' ' ')
[ "$codes" = '"code":1001 "code":1013 "code":1006 ' ] || { echo "FAIL: apply codes: $codes"; fails=$((fails + 1)); }
expect 0 "apply from stdin, batched" -- sh -c "printf '%s\n' '{\"cmd\":\"org.add\",\"id\":\"org-d\",\"name\":\"D\",\"country\":\"THA\"}' | \"$JCM\" --db \"$DB\" apply - --batch 10"
expect 2 "apply without a file" -- j apply
expect 2 "apply of a missing file" -- j apply "$TMP/no-such-file"
expect 2 "apply with a bad batch" -- j apply - --batch 0
expect 0 "verify after all" -- j verify

# A batch whose commit fails: an approval refused by its re-check has
# written (it released its units first), so the batch rolls back whole and
# apply runs each of its lines again alone (lib/engine.c, tx_begin).
D2=$TMP/sh_cli_demo
rm -rf "$D2"; mkdir -p "$D2"
(cd "$D2" && "$JCM" --db demo.db demo >/dev/null 2>&1) || { echo "FAIL: demo"; fails=$((fails + 1)); }
jd() { "$JCM" --db "$D2/demo.db" "$@"; }
jd transfer --from THA01-100-000004-52 --to THA01-110-000003-21 --range 1010-1059 >/dev/null || { echo "FAIL: transfer"; fails=$((fails + 1)); }
held=$(jd --json transfer --from THA01-110-000003-21 --to THA01-100-000004-52 --quantity 5 | sed -n 's/.*"tx":"\([^"]*\)".*/\1/p')
jd account block --account THA01-100-000004-52 --reason r >/dev/null
# The third line holds a NUL byte: refused as malformed, and again when it
# runs alone (cut at the NUL it would parse, and add org-z).
{
  printf '%s\n' '{"cmd":"org.add","id":"org-x","name":"X","country":"THA"}' "{\"cmd\":\"tx.approve\",\"tx\":\"$held\"}"
  printf '{"cmd":"org.add","id":"org-z","name":"Z","country":"THA"}\000x\n'
  printf '%s\n' '{"cmd":"org.add","id":"org-y","name":"Y","country":"THA"}'
} >"$D2/batch.jsonl"
expect 1 "apply of a batch that breaks" -- jd --actor cli:second apply "$D2/batch.jsonl" --batch 10
codes=$(sed -n 's/.*"error":{"code":\([0-9]*\).*/\1/p; s/.*"ok":true.*/ok/p' "$TMP/sh_cli.out" | tr '\n' ' ')
[ "$codes" = "ok 3002 1001 ok " ] || { echo "FAIL: broken batch results: $codes"; fails=$((fails + 1)); }
grep -q "running each alone" "$TMP/sh_cli.err" || { echo "FAIL: broken batch not reported"; fails=$((fails + 1)); }
[ "$(sqlite3 "$D2/demo.db" "SELECT COUNT(*) FROM org WHERE id IN ('org-x', 'org-y')")" = 2 ] ||
  { echo "FAIL: broken batch: the other commands did not take effect"; fails=$((fails + 1)); }
[ "$(sqlite3 "$D2/demo.db" "SELECT COUNT(*) FROM org WHERE id = 'org-z'")" = 0 ] ||
  { echo "FAIL: broken batch: a line with a NUL byte took effect when run again"; fails=$((fails + 1)); }
expect 0 "verify after a broken batch" -- jd verify

# jcm apply waiting for input holds no lock on the store, and a batch ends
# when input pauses: after the first line's result is out (with --batch 100
# too, though 99 more lines could follow), another writer commits at once
# (were the next batch begun before its line arrived, it would wait 5 s and
# fail as locked; were the batch waiting for 100 lines, no result would come).
mkfifo "$D2/fifo"
for batch in 1 100; do
  : >"$D2/fifo.out"
  jd apply - --batch $batch >"$D2/fifo.out" 2>"$D2/fifo.err" <"$D2/fifo" &
  apply_pid=$!
  exec 3>"$D2/fifo"
  printf '{"cmd":"org.add","id":"org-f1-%s","name":"F1","country":"THA"}\n' $batch >&3
  waited=0
  while [ "$(wc -l <"$D2/fifo.out")" -lt 1 ] && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  grep -q '"ok":true' "$D2/fifo.out" ||
    { echo "FAIL: apply --batch $batch from a pipe: no result for its first line"; fails=$((fails + 1)); }
  expect 0 "a writer beside an apply --batch $batch waiting for input" -- jd org add --id org-f2-$batch --name F2 --country THA
  printf '{"cmd":"org.add","id":"org-f3-%s","name":"F3","country":"THA"}\n' $batch >&3
  exec 3>&-
  wait $apply_pid || { echo "FAIL: apply --batch $batch from a pipe exited $?"; fails=$((fails + 1)); }
  [ "$(grep -c '"ok":true' "$D2/fifo.out")" = 2 ] ||
    { echo "FAIL: apply --batch $batch from a pipe: $(cat "$D2/fifo.out")"; fails=$((fails + 1)); }
done

# A command whose transaction cannot begin (another process holds the write
# lock past the 5 s busy timeout) reports that as its own result, and jcm
# apply goes on to the next line: exit 1, not a stop.
# The holder keeps the lock until told through a FIFO, after apply ends.
mkfifo "$D2/hold"
( printf '.timeout 30000\nBEGIN IMMEDIATE;\nCREATE TABLE lock_holder(x);\n'; read -r _ <"$D2/hold"; printf 'ROLLBACK;\n' ) |
  sqlite3 "$D2/demo.db" &
lock_pid=$!
waited=0
while sqlite3 "$D2/demo.db" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null && [ $waited -lt 100 ]; do
  sleep 0.1; waited=$((waited + 1))
done
printf '%s\n' '{"cmd":"org.add","id":"org-l1","name":"L1","country":"THA"}' >"$D2/locked.jsonl"
expect 1 "apply while another process holds the write lock" -- jd apply "$D2/locked.jsonl"
grep '"ok":false' "$TMP/sh_cli.out" | grep -q 'database is locked' ||
  { echo "FAIL: a line that could not begin: $(cat "$TMP/sh_cli.out")"; fails=$((fails + 1)); }
echo release >"$D2/hold"
wait $lock_pid || true
[ "$(sqlite3 "$D2/demo.db" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'lock_holder'")" = 0 ] ||
  { echo "FAIL: the lock holder's table stayed"; fails=$((fails + 1)); }

# Lines as jcm apply reads them, from a file and from a pipe: CRLF ends, a
# line of 70,000 bytes, one over 1 MiB (refused as too long, 1005, and the
# line after it read as usual), input far past the reader's first 64 KiB,
# and a last line without its newline.
lines=$D2/lines.jsonl
long=$(head -c 70000 /dev/zero | tr '\0' 'a')
{
  printf '{"cmd":"org.add","id":"org-crlf-%s","name":"CR","country":"THA"}\r\n' '$K'
  printf '{"cmd":"org.add","id":"org-long-%s","name":"%s","country":"THA"}\n' '$K' "$long"
  head -c 1100000 /dev/zero | tr '\0' 'b'; printf '\n'
  i=0
  while [ $i -lt 300 ]; do
    printf '{"cmd":"org.add","id":"org-many-%s-%d","name":"M","country":"THA"}\n' '$K' $i
    i=$((i + 1))
  done
  printf '{"cmd":"org.add","id":"org-last-%s","name":"L","country":"THA"}' '$K'
} >"$lines.in"
for how in file pipe; do
  sed "s/\\\$K/$how/g" "$lines.in" >"$lines"
  if [ $how = file ]; then jd apply "$lines" --batch 50 >"$D2/lines.out"; else cat "$lines" | jd apply - --batch 50 >"$D2/lines.out"; fi
  codes=$(sed -n 's/.*"error":{"code":\([0-9]*\).*/\1/p; s/.*"ok":true.*/ok/p' "$D2/lines.out" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
  [ "$codes" = " 2 1005  302 ok " ] || { echo "FAIL: lines from a $how: $codes"; fails=$((fails + 1)); }
  [ "$(sed -n 2p "$D2/lines.out" | grep -c 'name is longer')" = 1 ] &&
    [ "$(sed -n 3p "$D2/lines.out" | grep -c 'line is longer than 1 MiB')" = 1 ] ||
    { echo "FAIL: lines from a $how: the long lines' results"; fails=$((fails + 1)); }
  [ "$(sqlite3 "$D2/demo.db" "SELECT COUNT(*) FROM org WHERE id IN ('org-crlf-$how', 'org-last-$how')")" = 2 ] ||
    { echo "FAIL: lines from a $how: the first or the last line did not take effect"; fails=$((fails + 1)); }
done

# A tampered store: verify exits 1 and names what is wrong.
sqlite3 "$DB" "UPDATE account SET status = 'blocked' WHERE id = 'THA01-100-000001-61'" || fails=$((fails + 1))
expect 1 "verify of a tampered store" -- j verify
grep -q "FAILED" "$TMP/sh_cli.out" && grep -q "account" "$TMP/sh_cli.out" ||
  { echo "FAIL: verify does not name the tampered table"; cat "$TMP/sh_cli.out"; fails=$((fails + 1)); }

if [ $fails -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed ($fails checks)"; exit 1; fi
