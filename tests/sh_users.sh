#!/bin/sh
# The lifecycle of users and API tokens through a real `jcm serve` on
# 127.0.0.1 (docs/server.md, "Users"): a disabled user cannot sign in (told
# what a wrong password is told, journaled as a failed login), its sessions
# and tokens stop at once and its tokens work again once enabled; the last
# enabled administrator stays; a password change needs the current one for
# your own, ends the user's other sessions and keeps the one that made it;
# a revoked token is refused (401/8005) on every route. Every refusal
# leaves the store as it was, but for the journaled security events.
#   sh tests/sh_users.sh JCM TMP SOURCE_DIR
set -u
JCM=$1; TMP=$2/sh_users
command -v curl >/dev/null && command -v jq >/dev/null && command -v sqlite3 >/dev/null ||
  { echo "sh_users: needs curl, jq and sqlite3 (scripts/install-deps)"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP"
DB=$TMP/users.db
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
j() { "$JCM" --db "$DB" "$@"; }

# ---- a store: two admins, a holder, passwords and tokens ----
j init --registry THA01 --party THA --name "Thailand registry" >/dev/null
j org add --id org-a --name "Org A" --country THA >/dev/null
PW_root="users-test root $$"; PW_root2="users-test root2 $$"; PW_ha="users-test holder $$"
printf '%s\n' "$PW_root" | j user add root --role admin --password-stdin >/dev/null || fail "user add root"
printf '%s\n' "$PW_root2" | j user add root2 --role admin --password-stdin >/dev/null || fail "user add root2"
printf '%s\n' "$PW_ha" | j user add ha --role holder --org org-a --password-stdin >/dev/null || fail "user add ha"
T_root=$(j token create root | head -1); T_ha=$(j token create ha | head -1); T_ha2=$(j token create ha | head -1)
# the CLI: --days is digits once; its range is the command's check (1004, exit 1)
for bad in "+5" " 5" "-5" "5x" ""; do
  j token create ha --days "$bad" >/dev/null 2>&1; [ $? = 2 ] || fail "token create --days '$bad' is not a usage error"
done
j token create ha --days 3 --days 4 >/dev/null 2>&1; [ $? = 2 ] || fail "a repeated --days is not a usage error"
j token create ha --days 3651 >"$TMP/days.out" 2>&1; [ $? = 1 ] && grep -q 1004 "$TMP/days.out" || fail "--days 3651: $(cat "$TMP/days.out")"
T_cli=$(j token create --days 2 ha | head -1)
j --json token list ha | jq -e --arg id "$(echo "$T_cli" | cut -c5-20)" '.rows[] | select(.id == $id) | .expires' >/dev/null ||
  fail "the CLI's token of 2 days has no expiry"
# a role from the CLI, and back
j user role ha --role auditor >/dev/null || fail "jcm user role ha --role auditor"
j --json user list | jq -e '.rows[] | select(.name == "ha" and .role == "auditor" and .org == null)' >/dev/null ||
  fail "ha is not an auditor without an organisation: $(j --json user list)"
j user role ha --role holder >/dev/null 2>&1; [ $? = 1 ] || fail "a holder without an organisation was not refused"
j user role ha --role holder --org org-a >/dev/null || fail "jcm user role ha --role holder --org org-a"

"$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$TMP/port" --rate 0 --web '' 2>"$TMP/serve.err" &
PID=$!
n=0
while [ ! -s "$TMP/port" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
[ -s "$TMP/port" ] || { echo "FAIL: server did not start"; cat "$TMP/serve.err"; kill "$PID"; exit 1; }
U=http://127.0.0.1:$(cat "$TMP/port")

JSON="Content-Type: application/json"
# c [curl options] PATH: $code, body in $TMP/body
c() { code=$(curl -s -o "$TMP/body" -w "%{http_code}" "$@"); }
want() { [ "$code" = "$1" ] || fail "$2: HTTP $code, want $1: $(head -c 300 "$TMP/body")"; }
wantcode() { [ "$(jq -r .error.code "$TMP/body" 2>/dev/null)" = "$1" ] || fail "$2: $(head -c 200 "$TMP/body"), want code $1"; }
# cmd TOKEN NAME BODY: a command by a bearer token
cmd() { c -H "Authorization: Bearer $1" -H "$JSON" --data-binary "$3" "$U/api/v1/commands/$2"; }
read_as() { c -H "Authorization: Bearer $1" "$U/api/v1/queries/accounts"; }
login() { # login NAME PASSWORD: prints a jcs_ session token
  curl -s -H "$JSON" --data-binary "$(jq -cn --arg n "$1" --arg p "$2" '{name:$n,password:$p}')" "$U/api/v1/login" |
    jq -r '.token // empty'
}
# cookie_login NAME PASSWORD JAR: a browser session; prints its CSRF token
cookie_login() {
  curl -s -c "$3" -H "$JSON" --data-binary "$(jq -cn --arg n "$1" --arg p "$2" '{name:$n,password:$p,cookie:true}')" \
    "$U/api/v1/login" | jq -r '.csrf // empty'
}
signed_in() { curl -s -b "$1" "$U/api/v1/session" | jq -r .signed_in; }
dump() { for t in $(sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"); do
  if [ "$t" = journal ]; then sqlite3 "$DB" "SELECT seq, cmd, hex(hash) FROM journal WHERE cmd <> 'security.event' ORDER BY seq"
  else echo "== $t"; sqlite3 "$DB" "SELECT * FROM \"$t\" ORDER BY 1"; fi; done; }
unchanged() { # unchanged LABEL: the store is as at the last `dump >before`
  dump >"$TMP/after"
  cmp -s "$TMP/before" "$TMP/after" || { fail "$1 changed the store"; diff "$TMP/before" "$TMP/after" | head; }
}
events() { sqlite3 "$DB" "SELECT CAST(bytes AS TEXT) FROM journal WHERE cmd = 'security.event'"; }

# ---- disable and enable ----
S_ha=$(login ha "$PW_ha")
[ -n "$S_ha" ] || fail "ha cannot sign in"
JAR=$TMP/jar; CSRF=$(cookie_login ha "$PW_ha" "$JAR")
[ "$(signed_in "$JAR")" = true ] || fail "ha's browser session"
dump >"$TMP/before"
cmd "$T_ha" user.disable '{"name":"root2"}'; want 403 "a holder disables"; wantcode 8001 "a holder disables"
cmd "$T_root" user.disable '{"name":"ghost"}'; want 422 "disable an unknown user"; wantcode 1026 "unknown user"
cmd "$T_root" user.enable '{"name":"ha"}'; want 422 "enable an enabled user"; wantcode 1028 "enabled already"
unchanged "refused disables"
cmd "$T_root" user.disable '{"name":"root2","reason":"on leave"}'; want 200 "disable root2"
dump >"$TMP/before"
cmd "$T_root" user.disable '{"name":"root"}'; want 403 "the last enabled admin disables itself"; wantcode 8010 "last admin"
unchanged "the refused disabling of the last admin"
cmd "$T_root" user.enable '{"name":"root2"}'; want 200 "enable root2"

cmd "$T_root" user.disable '{"name":"ha","reason":"left org-a"}'; want 200 "disable ha"
read_as "$S_ha"; want 401 "the session of a disabled user"; wantcode 8005 "disabled session"
[ "$(signed_in "$JAR")" = false ] || fail "a disabled user's browser session still signs in"
c -b "$JAR" -H "$JSON" -H "X-CSRF-Token: $CSRF" --data-binary '{"from":"THA01-100-000001-61","to":"THA01-100-000001-61"}' \
  "$U/api/v1/commands/transfer"
want 401 "a disabled user's browser session submits"
read_as "$T_ha"; want 401 "a disabled user's token"
c -H "Authorization: Bearer $T_ha" -H "Content-Type: application/x-ndjson" --data-binary '{"cmd":"org.add"}' "$U/api/v1/batch"
want 401 "a disabled user's token in a batch"
c -H "$JSON" --data-binary "$(jq -cn --arg p "$PW_ha" '{name:"ha",password:$p}')" "$U/api/v1/login"
want 401 "a disabled user signs in"; cp "$TMP/body" "$TMP/disabled.body"
c -H "$JSON" --data-binary '{"name":"ha","password":"not the password"}' "$U/api/v1/login"
cmp -s "$TMP/body" "$TMP/disabled.body" || fail "a disabled user is told otherwise than a wrong password: $(cat "$TMP/disabled.body")"
events | grep '"kind":"login_failed"' | grep -q 'the user is disabled' || fail "the disabled user's login is not journaled"
cmd "$T_root" user.enable '{"name":"ha"}'; want 200 "enable ha"
read_as "$T_ha"; want 200 "an enabled user's token works again"
read_as "$S_ha"; want 401 "a session from before the disabling stays ended"
[ -n "$(login ha "$PW_ha")" ] || fail "an enabled user signs in again"

# ---- password change ----
S1=$(login ha "$PW_ha"); S2=$(login ha "$PW_ha")
NEW="users-test holder new $$"
dump >"$TMP/before"
body() { jq -cn --arg c "$1" --arg p "$2" --arg n "${3:-ha}" '{name:$n,current:$c,password:$p}'; }
cmd "$S1" user.password "$(body "wrong password" "$NEW")"; want 403 "a wrong current password"; wantcode 8009 "wrong current"
cmd "$S1" user.password "$(jq -cn --arg p "$NEW" '{name:"ha",password:$p}')"; want 422 "no current password"
wantcode 1002 "no current"
cmd "$S1" user.password "$(body "$PW_ha" "short")"; want 422 "a weak password"; wantcode 1025 "weak"
cmd "$S1" user.password "$(body "$PW_ha" "$NEW" root)"; want 403 "a holder sets root's password"; wantcode 8011 "another's"
unchanged "refused password changes"
events | grep -q 'refused 8009' || fail "a wrong current password is not journaled"
cmd "$S1" user.password "$(body "$PW_ha" "$NEW")"; want 200 "ha changes its password"
read_as "$S1"; want 200 "the session that changed the password goes on"
read_as "$S2"; want 401 "another session of ha ends"
[ -z "$(login ha "$PW_ha")" ] || fail "the old password still signs in"
[ -n "$(login ha "$NEW")" ] || fail "the new password does not sign in"
read_as "$T_ha"; want 200 "tokens outlive a password change"
cmd "$T_root" user.password "$(jq -cn --arg p "$NEW-2" '{name:"ha",password:$p}')"; want 200 "an admin sets ha's password"
read_as "$S1"; want 401 "ha's sessions end when an admin sets its password"
# in the browser: the cookie session stays signed in after its own change, with its CSRF token
CSRF=$(cookie_login ha "$NEW-2" "$JAR")
c -b "$JAR" -H "$JSON" -H "X-CSRF-Token: $CSRF" --data-binary "$(body "$NEW-2" "$NEW-3")" "$U/api/v1/commands/user.password"
want 200 "a password change by cookie"
[ "$(signed_in "$JAR")" = true ] || fail "the browser session that changed its password was signed out"
sqlite3 "$DB" "SELECT CAST(bytes AS TEXT) FROM journal" | grep -q "users-test" && fail "a password is in the journal"

# ---- revoking tokens ----
dump >"$TMP/before"
cmd "$T_ha" token.revoke "{\"id\":\"$(echo "$T_root" | cut -c5-20)\"}"; want 403 "a holder revokes root's token"
wantcode 8011 "another's token"
cmd "$T_ha" token.revoke '{"id":"0123456789abcdef"}'; want 403 "a holder revokes an unknown token"; wantcode 8011 "alike"
cmd "$T_root" token.revoke '{"id":"0123456789abcdef"}'; want 422 "an admin revokes an unknown token"; wantcode 1029 "unknown"
unchanged "refused revocations"
cmd "$T_ha" token.revoke "{\"id\":\"$(echo "$T_ha" | cut -c5-20)\"}"; want 200 "ha revokes its own token"
# refused on every route of the document
c "$U/api/v1/openapi.json"; cp "$TMP/body" "$TMP/openapi.json"
jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\(.) \($p)"' "$TMP/openapi.json" >"$TMP/ops"
[ "$(wc -l <"$TMP/ops")" -gt 50 ] || fail "the document lists too few routes"
while read -r method path; do
  M=$(echo "$method" | tr a-z A-Z)
  if [ "$M" = POST ]; then c -X POST -H "Authorization: Bearer $T_ha" -H "$JSON" --data-binary '{}' "$U$path"
  else c -H "Authorization: Bearer $T_ha" "$U$path"; fi
  [ "$code" = 401 ] && [ "$(jq -r .error.code "$TMP/body" 2>/dev/null)" = 8005 ] || fail "$M $path with a revoked token: $code"
done <"$TMP/ops"
cmd "$T_root" token.revoke "{\"id\":\"$(echo "$T_ha2" | cut -c5-20)\"}"; want 200 "an admin revokes ha's other token"
cmd "$T_root" token.revoke "{\"id\":\"$(echo "$T_ha2" | cut -c5-20)\"}"; want 422 "revoked twice"; wantcode 1028 "twice"
read_as "$T_ha2"; want 401 "the revoked token"
c -H "Authorization: Bearer $T_root" "$U/api/v1/queries/tokens?user=ha"; want 200 "tokens"
[ "$(jq '[.rows[] | select(.revoked_seq != null)] | length' "$TMP/body")" = 2 ] || fail "tokens: $(cat "$TMP/body")"
# every token made here expires, 90 days after it was made unless told
[ "$(jq '[.rows[] | select(.expires | test("^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T"))] | length' "$TMP/body")" = "$(jq '.rows | length' "$TMP/body")" ] ||
  fail "tokens without an expiry: $(cat "$TMP/body")"
cmd "$T_root" token.create '{"user":"ha","days":0}'; want 422 "a token of 0 days"; wantcode 1004 "days out of range"
cmd "$T_root" token.create '{"user":"ha","days":1}'; want 200 "a token of one day"
[ "$(jq -r '.result.token | length' "$TMP/body")" = 68 ] && jq -e '.result.expires' "$TMP/body" >/dev/null ||
  fail "token.create of one day: $(cat "$TMP/body")"
grep -q "$(echo "$T_ha" | cut -c30-60)" "$TMP/body" && fail "the token list shows a secret"
c -H "Authorization: Bearer $S1" "$U/api/v1/queries/tokens"; want 401 "an ended session reads tokens"
c -H "Authorization: Bearer $(login ha "$NEW-3")" "$U/api/v1/queries/tokens"; want 403 "a holder reads tokens"

kill -TERM "$PID"; wait "$PID" || fail "serve exit after SIGTERM"
j verify >"$TMP/verify.out" || { cat "$TMP/verify.out"; fail "jcm verify after the lifecycle"; }
# every value of the journal forged in turn: verify survives each (tests/forge_check.c)
"${4:?the forge_check program (tests/CMakeLists.txt passes it)}" "$DB" || fail "a forged value of $DB broke verify"
[ $fails -eq 0 ] && echo "sh_users: ok" || echo "sh_users: $fails failure(s)"
[ $fails -eq 0 ]
