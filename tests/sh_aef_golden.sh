#!/bin/sh
# The AEF reports of the TH014 story, byte for byte: `jcm demo --at` replays
# the story on both registries with a clock that is the same on every run,
# and each Party's report for 2025 must equal the golden files under
# tests/golden (CSV and JSON); the XLSX workbook is read back with unzip.
# A change to these files is a change to what a Party submits to the UNFCCC:
# regenerate them only on purpose, and review the diff.
set -eu
JCM=$1; TMP=$2; SRC=$3
T=$TMP/golden-THA01.db; J=$TMP/golden-JPN01.db
rm -f "$T" "$T-wal" "$T-shm" "$J" "$J-wal" "$J-shm" "$TMP/golden.xlsx"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$JCM" --db "$T" demo --peer-db "$J" --at 2025-11-11T00:00:00Z >/dev/null || fail "demo exited $?"
for r in THA01 JPN01; do
  db=$TMP/golden-$r.db
  for f in csv json; do
    "$JCM" --db "$db" aef --year 2025 --date 2026-04-15 --format $f >"$TMP/golden-$r.$f" || fail "aef $r $f"
    diff -u "$SRC/tests/golden/aef-$r-2025.$f" "$TMP/golden-$r.$f" || fail "aef $r $f differs from the golden file"
  done
done

# The workbook: five sheets with their titles; Actions holds a header and
# the two rows of each Party's story.
"$JCM" --db "$J" aef --year 2025 --date 2026-04-15 --format xlsx --out "$TMP/golden.xlsx" >/dev/null || fail "xlsx"
wb=$(unzip -p "$TMP/golden.xlsx" xl/workbook.xml)
for s in "1 Submission" "2 Authorizations" "3 Actions" "4 Holdings" "5 Authorized entities"; do
  echo "$wb" | grep -q "name=\"$s\"" || fail "sheet $s missing: $wb"
done
[ "$(unzip -p "$TMP/golden.xlsx" xl/worksheets/sheet3.xml | grep -o '<row ' | wc -l)" -eq 3 ] || fail "Actions rows"
unzip -p "$TMP/golden.xlsx" xl/worksheets/sheet3.xml | grep -q "Acquisition" || fail "Acquisition not in the Actions sheet"
echo "1 passed, 0 failed"
