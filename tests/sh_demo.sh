#!/bin/sh
# The main job end to end: jcm demo on two fresh stores replays the 7th
# Japan-Thailand JC meeting in THA01, moves Japan's share to JPN01 over the
# signed link, uses it toward Japan's NDC; the figures are checked exactly.
set -eu
JCM=$1; TMP=$2; SRC=$3
DB=$TMP/sh_demo.db
PEER=$TMP/sh_demo-jpn.db
rm -f "$DB" "$DB-wal" "$DB-shm" "$PEER" "$PEER-wal" "$PEER-shm"
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { echo "$out" | grep -q -- "$1" || fail "$2: no '$1'"; }

out=$("$JCM" --db "$DB" demo --case "$SRC/data/th014_case.json" --peer-db "$PEER") || fail "demo exited $?"
has "THA01-I-000001: 2017 = 1009 \[1-1009\] + 1008 \[1010-2017\]: adds up" "conservation line"
# the protocol, message by message
has "THA01 -> JPN01  message 1  proposal  THA01-X-000001" "proposal"
has "JPN01 -> THA01  message 1  accept    THA01-X-000001" "accept"
has "THA01 -> JPN01  message 2  complete  THA01-X-000001" "complete"
# four eyes: each move out of a government account waits for a second administrator
has "THA01-X-000001 awaits a second administrator's approval; its units are reserved" "THA01 proposal held"
has "THA01 \[ 24\] tx.approve         by second registry administrator" "THA01 approval"
has "JPN01-T-000001 awaits a second administrator's approval; its units are reserved" "JPN01 use held"
has "JPN01 \[ 13\] tx.approve         by second registry administrator" "JPN01 approval"
# holdings: Japan holds THA01's serials 1-1009 in the GoJ account, then in retirement after use
has "^JPN01-110-000001-46  THA01   1      1009  1009      TH014    2021     THA-JCM-2025-001" "JPN01 GoJ holds 1-1009"
has "^JPN01-400-000002-27  THA01   1      1009  1009      TH014    2021     THA-JCM-2025-001" "JPN01 used 1-1009"
has "^JPN01-110-000001-46  government-holding  Government of Japan holding account      0" "GoJ empty after use"
has "^THA01-110-000003-21  government-holding  .*  0$" "THA01 government account holds 0"
has "^THA01-100-000004-52  THA01   1010   2017  1008      TH014    2021     -" "Thai side keeps 1010-2017"
# AEF actions
has "^22   Authorization   THA-JCM-2025-001  THA01   1      1009  1009      2021     THA" "Authorization row"
has "^25   First transfer  THA-JCM-2025-001  THA01   1      1009  1009      2021     THA .* JPN" "First transfer row"
has "^10   Acquisition  THA-JCM-2025-001  THA01   1      1009  1009      2021     THA" "Acquisition row"
has "^13   Use          THA-JCM-2025-001  THA01   1      1009  1009      2021     THA .* NDC      JPN          2030" \
  "Use row"
# Article 6 balances
has "^2021  yes  -          1009  1009 .* +1009 ft 25/1" "THA +1009 in 2021"
has "^2030  yes  -          -1009  -1009 .* -1009 use 13/1" "JPN -1009 trajectory"
has "^2030  yes  -          -1009  -100.9 .* -1009 use 13/1" "JPN -100.9 averaging"
has "Emissions balance of JPN: single-year NDC 2021-2030, averaging (NDC version 2" "averaging version"
# both stores verify; every unit in exactly one registry
has "^THA01 verify: ok: 26 journal entries" "THA01 verify"
has "^JPN01 verify: ok: 14 journal entries" "JPN01 verify"
has "^THA01 serials 1-2017: 1008 in THA01 + 1009 in JPN01 = 2017: disjoint, together exactly the issued units" \
  "one registry per unit"

# The stores stay usable by the CLI: exact balances through the JSON interface.
bal=$("$JCM" --db "$DB" --json balance)
echo "$bal" | grep -q '"account":"THA01-100-000004-52","project":"TH014","quantity":1008,"vintage":2021' || fail "thai side balance: $bal"
echo "$bal" | grep -q 'THA01-110-000003-21' && fail "gov account still holds: $bal"
"$JCM" --db "$PEER" --json balance | grep -q '"account":"JPN01-400-000002-27","project":"TH014","quantity":1009' ||
  fail "JPN01 retirement balance"
"$JCM" --db "$PEER" --json link status --peer THA01 | grep -q '"last_received":2,"last_sent":1' || fail "link status"
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
"$JCM" --db "$PEER" verify >/dev/null || fail "verify JPN01"

# The public reports (DOMAIN.md §11): units per account type, transactions per year and type,
# holding accounts with their holders.
units=$("$JCM" --db "$DB" --json report units)
echo "$units" | grep -q '"accounts":1,"type":"holding","units":1008' || fail "units per type THA01: $units"
units=$("$JCM" --db "$PEER" --json report units)
echo "$units" | grep -q '"accounts":1,"type":"retirement","units":1009' || fail "units per type JPN01: $units"
txs=$("$JCM" --db "$DB" --json report transactions)
echo "$txs" | grep -q '"transactions":1,"type":"issuance","units":2017' || fail "issuance in the summary: $txs"
echo "$txs" | grep -q '"transactions":1,"type":"external out","units":1009' || fail "transfer out in the summary: $txs"
txs=$("$JCM" --db "$PEER" --json report transactions)
echo "$txs" | grep -q '"transactions":1,"type":"external in","units":1009' || fail "transfer in: $txs"
echo "$txs" | grep -q '"transactions":1,"type":"use","units":1009' || fail "use: $txs"
accts=$("$JCM" --db "$DB" --json report accounts)
[ "$(echo "$accts" | grep -o '"id":' | wc -l)" -eq 2 ] || fail "two holding accounts in THA01: $accts"
echo "$accts" | grep -q '"holder":"Government of Thailand"' || fail "holder named: $accts"

# A second demo is refused when either store exists: it needs fresh ones.
set +e
"$JCM" --db "$DB" demo --peer-db "$TMP/sh_demo-other.db" >/dev/null 2>&1
rc=$?
"$JCM" --db "$TMP/sh_demo-other.db" demo --peer-db "$PEER" >/dev/null 2>&1
rc2=$?
set -e
[ $rc -eq 2 ] || fail "demo on an existing store exit $rc"
[ $rc2 -eq 2 ] || fail "demo on an existing peer store exit $rc2"
[ ! -s "$TMP/sh_demo-other.db" ] || fail "a refused demo wrote a store"
# every value of the journal forged in turn: verify survives each (tests/forge_check.c)
FORGE=${4:?the forge_check program (tests/CMakeLists.txt passes it)}
"$FORGE" "$DB" || fail "a forged value of $DB broke verify"
"$FORGE" "$PEER" || fail "a forged value of $PEER broke verify"
echo "1 passed, 0 failed"
