#!/bin/sh
# Two registries linked only through files: THA01 and JPN01 are set up with
# the CLI, an external transfer travels as `jcm link export` files read by
# `jcm link import`, a file imported twice changes nothing (7003 counts as
# done), a tampered file is refused (7005, exit 1), and both stores verify.
set -u
JCM=$1; TMP=$2
T=$TMP/sh_link-tha.db; J=$TMP/sh_link-jpn.db
rm -f "$T" "$T-wal" "$T-shm" "$J" "$J-wal" "$J-shm" "$TMP"/sh_link-*.jsonl
fails=0
OUT=$TMP/sh_link.out; ERR=$TMP/sh_link.err
expect() { # expect STATUS DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$OUT" 2>"$ERR"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; cat "$OUT" "$ERR"; fails=$((fails + 1))
  fi
}
has() { grep -q -- "$1" "$OUT" || { echo "FAIL: no '$1' in:"; cat "$OUT"; fails=$((fails + 1)); }; }
err_has() { grep -q -- "$1" "$ERR" || { echo "FAIL: no '$1' in stderr:"; cat "$ERR"; fails=$((fails + 1)); }; }
t() { "$JCM" --db "$T" "$@"; }
j() { "$JCM" --db "$J" "$@"; }
account() { "$@" --json | sed -n 's/.*"account":"\([^"]*\)".*/\1/p'; }
pubkey() { "$JCM" --db "$1" --json key generate | sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p'; }

for c in "link export" "link import" "link status" "authorize" "xfer propose" "xfer terminate" "use" \
  "key generate" "registry key" "link receive" "tx approve" "tx reject" "tx cancel" "pending list"; do
  # shellcheck disable=SC2086
  expect 0 "$c --help" -- t $c --help
  has "usage: jcm"
done

# THA01: TH014's 2021 issuance, 1009 [1-1009] to the government account.
expect 0 "THA init" -- t init --registry THA01 --party THA --name "Thailand registry"
expect 0 "THA org" -- t org add --id got --name "Government of Thailand" --country THA
TGOV=$(account t account open --type government-holding --holder got --name "Share of Japan")
THOLD=$(account t account open --type holding --holder got --name "Thai side")
expect 0 "THA coop" -- t coop add --id JCM-JPN-THA --name JCM --party JPN --party THA
expect 0 "project import" -- t project import --project TH014 --title "Floating solar" --host THA \
  --coop JCM-JPN-THA --status registered --source "earlier records"
expect 0 "monitoring submit" -- t monitoring submit --project TH014 --first-day 2021-01-01 --last-day 2021-12-31 \
  --calculated 2017
expect 0 "monitoring verify" -- "$JCM" --db "$T" --role tpe --actor tpe monitoring verify --project TH014 \
  --first-day 2021-01-01 --last-day 2021-12-31 --verified 2017 --report "report"
expect 0 "issue" -- t issue --coop JCM-JPN-THA --meeting 7 --date 2025-10-30 --project TH014 \
  --first-day 2021-01-01 --last-day 2021-12-31 --total 2017 --allocation "$TGOV=1009" --allocation "$THOLD=1008"

# JPN01, and the two registries know each other and each other's keys.
expect 0 "JPN init" -- j init --registry JPN01 --party JPN --name "Japan JCM registry"
expect 0 "JPN org" -- j org add --id goj --name "Government of Japan" --country JPN
JGOV=$(account j account open --type government-holding --holder goj --name "Government of Japan holding account")
expect 0 "JPN retirement" -- j account open --type retirement --holder goj --name "NDC use"
expect 0 "JPN coop" -- j coop add --id JCM-JPN-THA --name JCM --party JPN --party THA
expect 0 "THA knows JPN01" -- t registry add --id JPN01 --party JPN --name "Japan JCM registry" --role national
expect 0 "JPN knows THA01" -- j registry add --id THA01 --party THA --name "Thailand registry" --role national
TK=$(pubkey "$T"); JK=$(pubkey "$J")
[ ${#TK} -eq 64 ] && [ ${#JK} -eq 64 ] || { echo "FAIL: keys '$TK' '$JK'"; fails=$((fails + 1)); }
expect 0 "THA records JPN01's key" -- t registry key --id JPN01 --public-key "$JK"
expect 0 "JPN records THA01's key" -- j registry key --id THA01 --public-key "$TK"

# Authorization with list fields from the command line, then the proposal.
expect 0 "authorize" -- t authorize --id THA-JCM-2025-001 --date 2025-11-11 --coop JCM-JPN-THA --quantity 1009 \
  --metric GHG --sector "Energy generation" --purposes NDC --party JPN --first-year 2021 --last-year 2030 \
  --range 1-1009
expect 0 "auth list" -- t --json auth list
has '"parties":"\[\\"JPN\\"\]"'
has '"sectors":"\[\\"Energy generation\\"\]"'
has '"ranges\\":\[{\\"first\\":1,\\"last\\":1009'
expect 0 "xfer propose" -- t --actor tgo-officer-1 xfer propose --from "$TGOV" --to "$JGOV" --quantity 1009
has "tx: THA01-X-000001"
has "status: awaiting approval"
# four eyes: from a government account nothing is sent before a second
# administrator approves; the proposer cannot approve its own proposal
expect 0 "nothing sent before approval" -- t link export --peer JPN01
[ -s "$OUT" ] && { echo "FAIL: a message before approval"; cat "$OUT"; fails=$((fails + 1)); }
expect 0 "pending list" -- t pending list
has "THA01-X-000001"
expect 1 "the proposer approves" -- t --actor tgo-officer-1 tx approve --tx THA01-X-000001
err_has "8007"
expect 0 "a second administrator approves" -- t --actor tgo-officer-2 tx approve --tx THA01-X-000001
has "status: proposed"

# proposal: THA01 -> file -> JPN01
expect 0 "export proposal" -- t link export --peer JPN01
cp "$OUT" "$TMP/sh_link-1.jsonl"
[ "$(wc -l <"$TMP/sh_link-1.jsonl")" -eq 1 ] || { echo "FAIL: one message expected"; fails=$((fails + 1)); }
has '^{"msg":"{.*\\"type\\":\\"proposal\\".*","sig":"[0-9a-f]*"}$'
expect 0 "import proposal" -- j link import "$TMP/sh_link-1.jsonl"
has "THA01 #1 proposal   THA01-X-000001: received"
expect 0 "import proposal again" -- j link import "$TMP/sh_link-1.jsonl"
has "THA01 #1 proposal   THA01-X-000001: duplicate, received before \[7003\]"
expect 0 "JPN link status" -- j link status --peer THA01
has "last message received from THA01: 1"
has "last message written for THA01: 1"

# accept: JPN01 -> THA01 through standard input
expect 0 "export accept" -- j link export --peer THA01
cp "$OUT" "$TMP/sh_link-2.jsonl"
expect 0 "import accept from stdin" -- sh -c "\"$JCM\" --db \"$T\" link import - <\"$TMP/sh_link-2.jsonl\""
has "JPN01 #1 accept     THA01-X-000001: received"

# complete: exported after 1, so only the new message; tampered first
expect 0 "export complete" -- t link export --peer JPN01 --after 1
cp "$OUT" "$TMP/sh_link-3.jsonl"
has '\\"type\\":\\"complete\\"'
sed 's/\\"tx\\":\\"THA01-X-000001\\"/\\"tx\\":\\"THA01-X-000002\\"/' "$TMP/sh_link-3.jsonl" >"$TMP/sh_link-bad.jsonl"
cmp -s "$TMP/sh_link-3.jsonl" "$TMP/sh_link-bad.jsonl" && { echo "FAIL: tampering changed nothing"; fails=$((fails + 1)); }
expect 1 "tampered message" -- j link import "$TMP/sh_link-bad.jsonl"
err_has "refused \[7005\]"
expect 0 "balance before complete" -- j --json balance
grep -q '"quantity"' "$OUT" && { echo "FAIL: JPN01 credited before complete"; fails=$((fails + 1)); }
expect 0 "import complete" -- j link import "$TMP/sh_link-3.jsonl"
has "THA01 #2 complete   THA01-X-000001: received"
expect 0 "import complete twice, with the proposal" -- sh -c "cat \"$TMP/sh_link-1.jsonl\" \"$TMP/sh_link-3.jsonl\" |
  \"$JCM\" --db \"$J\" link import -"
has "THA01 #2 complete   THA01-X-000001: duplicate"

# Where the units are: 1-1009 of origin THA01 in the GoJ account, none left in THA01's.
expect 0 "JPN blocks" -- j --json blocks
has "\"account\":\"$JGOV\",[^}]*\"first\":1,[^}]*\"last\":1009,[^}]*\"origin\":\"THA01\""
expect 0 "THA balance" -- t --json balance
grep -q "$TGOV" "$OUT" && { echo "FAIL: THA01 government account still holds"; fails=$((fails + 1)); }
expect 0 "xfer list" -- t --json xfer list
has '"status":"completed"'
expect 0 "nothing more for JPN01" -- t link export --peer JPN01 --after 2
[ -s "$OUT" ] && { echo "FAIL: unexpected messages"; cat "$OUT"; fails=$((fails + 1)); }
expect 0 "THA verify" -- t verify
has "verify: ok"
expect 0 "JPN verify" -- j verify
has "verify: ok"
expect 2 "link status without a peer" -- t link status

# every value of the journal forged in turn: verify survives each (tests/forge_check.c)
for db in "$T" "$J"; do
  "${4:?the forge_check program (tests/CMakeLists.txt passes it)}" "$db" || { echo "FAIL: a forged value of $db broke verify"; fails=$((fails + 1)); }
done

if [ $fails -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed ($fails checks)"; exit 1; fi
