#!/bin/sh
# scripts/run-demo, the main job behind `make run`: fresh demo stores, the
# TH014 story, one user per role with a random password, a table of them,
# then `jcm serve`. Here the server gets a free port (JCM_LISTEN, --port-file);
# every printed user signs in with its printed password and gets its role;
# SIGTERM stops it (exit 0). A second run (--no-serve) prints other passwords.
#   sh tests/sh_run_demo.sh JCM TMP SOURCE_DIR
set -u
JCM=$1; TMP=$2/sh_run_demo; SRC=$3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "sh_run_demo: needs curl and jq"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP"
cd "$TMP" || exit 1
echo stale >demo-THA01.db # a fresh store every run: this must go
JCM=$JCM JCM_LISTEN=127.0.0.1:0 sh "$SRC/scripts/run-demo" -- --port-file "$TMP/port" --access-log "$TMP/access.log" \
  >out1 2>err1 &
PID=$!
n=0
while [ ! -s "$TMP/port" ] && [ $n -lt 1200 ] && kill -0 "$PID" 2>/dev/null; do sleep 0.1; n=$((n + 1)); done
[ -s "$TMP/port" ] || { echo "FAIL: the server did not start"; cat out1 err1; kill "$PID" 2>/dev/null; exit 1; }
U=http://127.0.0.1:$(cat "$TMP/port")
grep -q 'Open http://127.0.0.1:0/' out1 || fail "no URL printed"
grep -q '1,009' out1 || grep -q '1009' out1 || fail "the TH014 story was not told"
# the table: user role org password
sed -n '/^  user /,/^$/p' out1 | tail -n +3 | sed '/^$/d' >users
[ "$(wc -l <users)" -eq 5 ] || { fail "$(wc -l <users) users printed, want 5"; cat out1; }
for role in admin jc_secretariat holder tpe auditor; do
  awk '{print $2}' users | grep -qx "$role" || fail "no $role printed"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz"); [ "$code" = 200 ] || fail "healthz: $code"
while read -r name role org pw; do
  [ ${#pw} -ge 20 ] || fail "$name: a short password '$pw'"
  body=$(jq -cn --arg n "$name" --arg p "$pw" '{name:$n,password:$p}')
  got=$(curl -s -H 'Content-Type: application/json' --data-binary "$body" "$U/api/v1/login" | jq -r '.role + " " + (.org // "-")')
  [ "$got" = "$role $org" ] || fail "$name signs in as '$got', want '$role $org'"
done <users
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data '{"name":"admin","password":"admin-password"}' "$U/api/v1/login")
[ "$code" = 401 ] || fail "a guessed admin password: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/"); [ "$code" = 200 ] || fail "the web UI: $code"
kill -TERM "$PID"; wait "$PID"; rc=$?
[ $rc -eq 0 ] || { fail "serve exited $rc after SIGTERM"; cat err1; }
"$JCM" --db demo-THA01.db verify >/dev/null || fail "verify demo-THA01.db"
# again, without serving: new passwords
JCM=$JCM sh "$SRC/scripts/run-demo" --no-serve >out2 2>err2 || { fail "run-demo --no-serve"; cat err2; }
sed -n '/^  user /,/^$/p' out2 | tail -n +3 | sed '/^$/d' >users2
[ "$(wc -l <users2)" -eq 5 ] || fail "second run: $(wc -l <users2) users"
awk '{print $4}' users users2 | sort | uniq -d | grep -q . && fail "a password repeated between runs"
grep -q admin-password out1 out2 && fail "a fixed password"
[ $fails -eq 0 ] && echo "sh_run_demo: ok" || echo "sh_run_demo: $fails failure(s)"
[ $fails -eq 0 ]
