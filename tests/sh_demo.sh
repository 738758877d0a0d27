#!/bin/sh
# The main job end to end: jcm demo on a fresh store replays the 7th
# Japan-Thailand JC meeting; the figures are checked exactly.
set -eu
JCM=$1; TMP=$2; SRC=$3
DB=$TMP/sh_demo.db
rm -f "$DB" "$DB-wal" "$DB-shm"
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$JCM" --db "$DB" demo --case "$SRC/data/th014_case.json") || fail "demo exited $?"
echo "$out" | grep -q "THA01-I-000001: 2017 = 1009 \[1-1009\] + 1008 \[1010-2017\]: adds up" || fail "conservation line"
echo "$out" | grep -q "^verify: ok: 18 journal entries" || fail "verify line"

# Balances through the JSON interface, exactly.
bal=$("$JCM" --db "$DB" --json balance)
echo "$bal" | grep -q '"account":"THA01-110-000003-21","project":"TH014","quantity":1009,"vintage":2021' || fail "gov balance: $bal"
echo "$bal" | grep -q '"account":"THA01-100-000004-52","project":"TH014","quantity":1008,"vintage":2021' || fail "thai side balance: $bal"
blocks=$("$JCM" --db "$DB" --json blocks)
[ "$(echo "$blocks" | grep -o '"first":' | wc -l)" -eq 2 ] || fail "two blocks expected: $blocks"
echo "$blocks" | grep -q '"first":1,[^}]*"issuance":"THA01-I-000001","last":1009' || fail "block 1-1009"
echo "$blocks" | grep -q '"first":1010,[^}]*"issuance":"THA01-I-000001","last":2017' || fail "block 1010-2017"
"$JCM" --db "$DB" --json project list | grep -q '"id":"TH022".*"status":"registered"' || fail "TH022 registered"
"$JCM" --db "$DB" --json project list | grep -q '"pin":"TH_PIN008".*"status":"pin_approved"' || fail "PIN approved"

# The same period cannot be issued twice (5007), and the store stays verifiable.
set +e
"$JCM" --db "$DB" issue --meeting 7 --date 2025-10-30 --project TH014 --first-day 2021-01-01 --last-day 2021-12-31 \
  --total 1 --allocation THA01-100-000004-52=1 2>"$TMP/sh_demo.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "second issuance exit $rc"
grep -q "refused \[5007\]" "$TMP/sh_demo.err" || fail "second issuance code: $(cat "$TMP/sh_demo.err")"
"$JCM" --db "$DB" verify >/dev/null || fail "verify after refusal"

# A second demo on the same store is refused: it needs a fresh one.
set +e
"$JCM" --db "$DB" demo >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "demo on an existing store exit $rc"
echo "1 passed, 0 failed"
