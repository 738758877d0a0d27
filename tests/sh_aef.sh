#!/bin/sh
# jcm aef's contract: exit 0 with the report written, 1 when the report is
# inconsistent (its problems listed, nothing written), 2 on bad usage.
# The a6_action row is seeded with sqlite3: the commands that write it are
# being built in parallel (see tests/test_aef.c).
set -u
JCM=$1; TMP=$2
DB=$TMP/sh_aef.db
OUT=$TMP/sh_aef
rm -f "$DB" "$DB-wal" "$DB-shm" "$OUT".*
fails=0
expect() { # expect STATUS DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$OUT.out" 2>"$OUT.err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; cat "$OUT.err"; fails=$((fails + 1))
  fi
}
j() { "$JCM" --db "$DB" "$@"; }
year=$(date -u +%Y)

expect 0 "aef --help" -- j aef --help
grep -q "usage: jcm aef" "$OUT.out" || { echo "FAIL: aef --help prints no usage"; fails=$((fails + 1)); }
expect 0 "init" -- j init --registry THA01 --party THA --name "Thailand registry"
expect 2 "no --year" -- j aef
expect 2 "a year that is no number" -- j aef --year 20x6
expect 2 "a year out of range" -- j aef --year 1800
expect 2 "an unknown format" -- j aef --year "$year" --format pdf
expect 2 "xlsx without --out" -- j aef --year "$year" --format xlsx
expect 2 "an unknown option" -- j aef --year "$year" --colour red
expect 2 "an option without its value" -- j aef --year
expect 0 "csv to standard output" -- j aef --year "$year" --date 2026-01-15
grep -q "^Table 5: Authorized entities" "$OUT.out" || { echo "FAIL: the csv lacks Table 5"; fails=$((fails + 1)); }
expect 0 "xlsx to a file" -- j aef --year "$year" --format xlsx --out "$OUT.xlsx"
[ -s "$OUT.xlsx" ] || { echo "FAIL: no workbook written"; fails=$((fails + 1)); }
expect 0 "json to a file, --json answer" -- j --json aef --year "$year" --format json --out "$OUT.json"
grep -q '"ok":true' "$OUT.out" || { echo "FAIL: --json gives no ok line"; fails=$((fails + 1)); }

sqlite3 "$DB" "INSERT INTO a6_action(seq, n, time, type, coop, auth_id, auth_version, ft_party, origin, first, last,
  vintage) VALUES (1, 1, '$year-06-01T00:00:00.000Z', 'Authorization', 'JCM-JPN-THA', 'A6-NONE', 1, 'THA', 'THA01',
  1, 10, 2021)"
expect 1 "an action of no authorization" -- j aef --year "$year" --format xlsx --out "$OUT.bad.xlsx"
grep -q "\[6203\] Actions row 1" "$OUT.err" || { echo "FAIL: 6203 not listed"; cat "$OUT.err"; fails=$((fails + 1)); }
[ -e "$OUT.bad.xlsx" ] || [ -e "$OUT.bad.xlsx.part" ] && { echo "FAIL: a refused report was written"; fails=$((fails + 1)); }
expect 1 "the same, --json" -- j --json aef --year "$year"
grep -q '"problems":\[' "$OUT.out" || { echo "FAIL: --json lists no problems"; fails=$((fails + 1)); }

[ "$fails" -eq 0 ] && echo "sh_aef: all passed"
exit "$fails"
