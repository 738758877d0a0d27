#!/bin/sh
# The CLI of corresponding adjustments: jcm ndc set, emissions report, year
# finalize and a6 balance (table and --json). The Japanese use of TH014's
# 1,009 ITMOs is seeded into a6_action with sqlite3, as tests/test_adjust.c
# explains: the command that records uses is being built in parallel.
set -u
JCM=$1; TMP=$2
DB=$TMP/sh_adjust.db
rm -f "$DB" "$DB-wal" "$DB-shm"
fails=0
expect() { # expect STATUS DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$TMP/sh_adjust.out" 2>"$TMP/sh_adjust.err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; cat "$TMP/sh_adjust.err"; fails=$((fails + 1))
  fi
}
has() { grep -q -- "$1" "$TMP/sh_adjust.out" || { echo "FAIL: no '$1' in:"; cat "$TMP/sh_adjust.out"; fails=$((fails + 1)); }; }
j() { "$JCM" --db "$DB" "$@"; }

for c in "ndc set" "emissions report" "year finalize" "a6 balance"; do
  # shellcheck disable=SC2086
  expect 0 "$c --help" -- j $c --help
  has "usage: jcm"
done
expect 0 "init" -- j init --registry JPN01 --party JPN --name "Japan registry"
expect 1 "balance without an NDC" -- j a6 balance
grep -q "refused \[6102\]" "$TMP/sh_adjust.err" || { echo "FAIL: 6102 not named"; fails=$((fails + 1)); }
expect 1 "NDC of another Party" -- j ndc set --party THA --kind single-year --first-year 2021 --last-year 2030 --method trajectory
expect 0 "ndc set" -- j ndc set --party JPN --kind single-year --first-year 2021 --last-year 2030 \
  --method averaging --fiscal-start-month 4
expect 0 "emissions report" -- j emissions report --party JPN --year 2030 --quantity 760000000
sqlite3 "$DB" "INSERT INTO a6_action(seq, n, time, type, coop, auth_id, auth_version, ft_party, origin, first, last,
  vintage, using_party, ndc_year) VALUES (100, 1, '2026-01-01T00:00:00.000Z', 'Use', 'JCM-JPN-THA', 'TH014-A', 1,
  'THA', 'THA01', 1, 1009, 2021, 'JPN', 2025)" || fails=$((fails + 1))
expect 0 "a6 balance" -- j a6 balance
has "2030  yes  760000000  0      -100.9      759999899.1"
expect 0 "a6 balance --party --json" -- j --json a6 balance --party JPN
has '"adjustment":"-100.9","adjustment_milli":-100900'
expect 0 "year finalize" -- j year finalize --party JPN --year 2030
has "actions: \[\[100,1\]\]"
expect 1 "finalize again" -- j year finalize --party JPN --year 2030
expect 0 "a new report of a final year" -- j emissions report --party JPN --year 2030 --quantity 750000000
expect 0 "a6 balance shows the difference" -- j a6 balance
has "v1 (live differs)"

# every value of the journal forged in turn: verify survives each (tests/forge_check.c)
"${4:?the forge_check program (tests/CMakeLists.txt passes it)}" "$DB" || { echo "FAIL: a forged value of $DB broke verify"; fails=$((fails + 1)); }

if [ $fails -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed ($fails checks)"; exit 1; fi
