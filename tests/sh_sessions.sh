#!/bin/sh
# Browser sessions and the AEF download against a real `jcm serve` on the
# TH014 demo store (docs/server.md): login with "cookie":true sets an
# HttpOnly, SameSite=Strict cookie (Secure with --secure-cookies) and
# returns the CSRF token; a cookie-signed change without the token, with a
# wrong one, from a foreign Origin, or as a replayed form post is 403/8006
# and changes nothing but the journaled security event; with the token it
# goes; bearer tokens need no CSRF token; logout ends the session. Then
# GET /api/v1/reports/aef as CSV, JSON and XLSX, and 422 with the problems
# for a bad year and for an inconsistent report.
#   sh tests/sh_sessions.sh JCM TMP SOURCE_DIR
set -u
JCM=$1; TMP=$2/sh_sessions
command -v curl >/dev/null && command -v jq >/dev/null && command -v sqlite3 >/dev/null ||
  { echo "sh_sessions: needs curl, jq and sqlite3 (scripts/install-deps)"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP"
DB=$TMP/demo-THA01.db
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
j() { "$JCM" --db "$DB" "$@"; }
(cd "$TMP" && "$JCM" --db "$DB" demo >demo.out 2>&1) || { echo "FAIL: jcm demo"; tail "$TMP/demo.out"; exit 1; }
PW="sessions-test admin $$"
printf '%s\n' "$PW" | j user add root --role admin --password-stdin >/dev/null || fail "user add root"
printf '%s\n' "sessions-test auditor $$" | j user add aud --role auditor --password-stdin >/dev/null || fail "user add aud"
T_admin=$(j token create root | head -1)

start() { # start NAME [serve options]: sets PID, U, ORIGIN
  name=$1; shift
  "$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$TMP/$name.port" --rate 0 --web '' "$@" \
    2>"$TMP/$name.err" &
  PID=$!
  n=0
  while [ ! -s "$TMP/$name.port" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  [ -s "$TMP/$name.port" ] || { echo "FAIL: server did not start"; cat "$TMP/$name.err"; kill "$PID"; exit 1; }
  ORIGIN=http://127.0.0.1:$(cat "$TMP/$name.port")
  U=$ORIGIN
}
stop() { kill -TERM "$PID"; wait "$PID" || fail "serve exit after SIGTERM"; }
# c [curl options] PATH: $code, body in $TMP/body, headers in $TMP/headers
c() { code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w "%{http_code}" "$@"); }
want() { [ "$code" = "$1" ] || fail "$2: HTTP $code, want $1: $(head -c 300 "$TMP/body")"; }
wantcode() { [ "$(jq -r .error.code "$TMP/body" 2>/dev/null)" = "$1" ] || fail "$2: code $(head -c 200 "$TMP/body"), want $1"; }
header() { tr -d '\r' <"$TMP/headers" | grep -i "^$1:" | head -1; }
JSON="Content-Type: application/json"
JAR=$TMP/jar
login_body=$(jq -cn --arg p "$PW" '{name:"root",password:$p,cookie:true}')

start main

# ---- login sets the cookie, returns the CSRF token (and no bearer token) ----
curl -s -o "$TMP/body" -D "$TMP/headers" -c "$JAR" -H "$JSON" -H "Origin: $ORIGIN" --data-binary "$login_body" \
  "$U/api/v1/login" >/dev/null
sc=$(header Set-Cookie)
case $sc in *"jcm_session=jcs_"*) ;; *) fail "login: no session cookie: '$sc'" ;; esac
for a in HttpOnly SameSite=Strict "Path=/" Max-Age=28800; do
  case $sc in *"$a"*) ;; *) fail "login cookie lacks $a: $sc" ;; esac
done
case $sc in *Secure*) fail "Secure cookie over plain HTTP without --secure-cookies: $sc" ;; esac
CSRF=$(jq -r .csrf "$TMP/body")
[ ${#CSRF} -eq 64 ] || fail "login: csrf '$CSRF'"
jq -e 'has("token") | not' "$TMP/body" >/dev/null || fail "a cookie login returned the bearer token in its body"
jq -e '.user == "root" and .role == "admin"' "$TMP/body" >/dev/null || fail "login body: $(cat "$TMP/body")"
# the session route, by the cookie alone (what the UI asks after a reload)
c -b "$JAR" "$U/api/v1/session"; want 200 session
jq -e --arg c "$CSRF" '.signed_in and .user == "root" and .csrf == $c' "$TMP/body" >/dev/null ||
  fail "session: $(cat "$TMP/body")"
c "$U/api/v1/session"; want 200 "session, public"
jq -e '.signed_in == false and (has("csrf") | not)' "$TMP/body" >/dev/null || fail "public session: $(cat "$TMP/body")"
c -b "$JAR" "$U/api/v1/queries/accounts"; want 200 "a read by cookie needs no CSRF token"

# ---- refusals: nothing changes but the journaled security events ----
dump() { for t in $(sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"); do
  if [ "$t" = journal ]; then sqlite3 "$DB" "SELECT seq, cmd, hex(hash) FROM journal WHERE cmd <> 'security.event' ORDER BY seq"
  else echo "== $t"; sqlite3 "$DB" "SELECT * FROM \"$t\" ORDER BY 1"; fi; done; }
events() { sqlite3 "$DB" "SELECT COUNT(*) FROM journal WHERE cmd = 'security.event' AND CAST(bytes AS TEXT) LIKE '%csrf_refused%'"; }
dump >"$TMP/before"
ev0=$(events)
ORG='{"id":"org-csrf","name":"CSRF test","country":"THA"}'
c -b "$JAR" -H "$JSON" -H "Origin: $ORIGIN" --data-binary "$ORG" "$U/api/v1/commands/org.add"
want 403 "cookie POST without X-CSRF-Token"; wantcode 8006 "no token"
c -b "$JAR" -H "$JSON" -H "X-CSRF-Token: $(echo "$CSRF" | tr 0-9a-f 1-9a-f0)" --data-binary "$ORG" "$U/api/v1/commands/org.add"
want 403 "a wrong X-CSRF-Token"; wantcode 8006 "wrong token"
c -b "$JAR" -H "$JSON" -H "X-CSRF-Token: short" --data-binary "$ORG" "$U/api/v1/commands/org.add"
want 403 "a short X-CSRF-Token"
c -b "$JAR" -H "$JSON" -H "X-CSRF-Token: $CSRF" -H "Origin: https://evil.example" --data-binary "$ORG" \
  "$U/api/v1/commands/org.add"
want 403 "a foreign Origin with the right token"; wantcode 8006 "foreign origin"
[ "$(jq -r .error.field "$TMP/body")" = Origin ] || fail "foreign origin: field $(jq -r .error.field "$TMP/body")"
# what a hostile page's <form> would send: urlencoded, the cookie, no token
c -b "$JAR" -H "Origin: https://evil.example" -d "id=org-csrf&name=x&country=THA" "$U/api/v1/commands/org.add"
want 403 "a replayed form post"; wantcode 8006 "form post"
c -b "$JAR" -d "id=org-csrf&name=x&country=THA" "$U/api/v1/commands/org.add"
want 403 "a form post without Origin"; wantcode 8006 "form post without Origin"
c -b "$JAR" -H "Content-Type: application/x-ndjson" --data-binary '{"cmd":"org.add","id":"org-csrf","name":"x","country":"THA"}' \
  "$U/api/v1/batch"
want 403 "a cookie batch without the token"
c -b "$JAR" -X POST "$U/api/v1/logout"; want 403 "logout without the token"
c -H "$JSON" -H "Origin: https://evil.example" --data-binary "$login_body" "$U/api/v1/login"
want 403 "a login from a foreign Origin"; wantcode 8006 "foreign login"
dump >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { fail "refused requests changed the store"; diff "$TMP/before" "$TMP/after" | head; }
[ $(($(events) - ev0)) -ge 9 ] || fail "csrf refusals journaled: $(($(events) - ev0)), want 9"

# ---- with the token: done; bearer tokens need none ----
c -b "$JAR" -H "$JSON" -H "X-CSRF-Token: $CSRF" -H "Origin: $ORIGIN" --data-binary "$ORG" "$U/api/v1/commands/org.add"
want 200 "cookie POST with the right token and Origin"
sqlite3 "$DB" "SELECT actor FROM journal WHERE cmd = 'org.add' ORDER BY seq DESC LIMIT 1" | grep -qx root ||
  fail "the command was not journaled as root"
c -H "Authorization: Bearer $T_admin" -H "$JSON" --data-binary '{"id":"org-bearer","name":"B","country":"THA"}' \
  "$U/api/v1/commands/org.add"
want 200 "a bearer token needs no CSRF token"

# ---- logout ends the session and clears the cookie ----
cp "$JAR" "$TMP/jar.old"
c -b "$JAR" -c "$JAR" -X POST -H "X-CSRF-Token: $CSRF" "$U/api/v1/logout"; want 200 logout
jq -e '.ended' "$TMP/body" >/dev/null || fail "logout ended nothing"
case $(header Set-Cookie) in *"jcm_session=;"*"Max-Age=0"*) ;; *) fail "logout: cookie not cleared: $(header Set-Cookie)" ;; esac
c -b "$TMP/jar.old" "$U/api/v1/session"
jq -e '.signed_in == false' "$TMP/body" >/dev/null || fail "the old cookie still signs in"
c -b "$TMP/jar.old" -H "$JSON" -H "X-CSRF-Token: $CSRF" --data-binary '{"id":"org-late","name":"L","country":"THA"}' \
  "$U/api/v1/commands/org.add"
want 401 "a command with the ended session's cookie"
sqlite3 "$DB" "SELECT bytes FROM journal WHERE cmd = 'security.event'" | grep -q '"kind":"logout"' || fail "no logout event"
# a bearer session (jcs_) ends too
S=$(curl -s -H "$JSON" --data-binary "$(jq -cn --arg p "$PW" '{name:"root",password:$p}')" "$U/api/v1/login" | jq -r .token)
c -H "Authorization: Bearer $S" -X POST "$U/api/v1/logout"; want 200 "bearer logout"
c -H "Authorization: Bearer $S" "$U/api/v1/queries/accounts"; want 401 "the ended bearer session"

# ---- the AEF download ----
year=$(date -u +%Y)
c "$U/api/v1/reports/aef?year=$year&format=csv&date=$year-12-31"; want 200 "aef csv"
case $(header Content-Type) in *"text/csv"*) ;; *) fail "aef csv type: $(header Content-Type)" ;; esac
case $(header Content-Disposition) in *'attachment; filename="aef-THA-'"$year"'-v1.csv"'*) ;;
*) fail "aef csv disposition: $(header Content-Disposition)" ;; esac
cp "$TMP/body" "$TMP/aef.csv"
j aef --year "$year" --date "$year-12-31" >"$TMP/aef-cli.csv" || fail "jcm aef"
cmp -s "$TMP/aef.csv" "$TMP/aef-cli.csv" || fail "the download differs from jcm aef"
# Table 3 (Actions): the rows between its header and the blank line; the demo made Authorization and First transfer
actions=$(tr -d '\r' <"$TMP/aef.csv" | awk '/^Table 3:/{t=1; getline; next} t && /^$/{t=0} t' | wc -l)
[ "$actions" -ge 2 ] || fail "aef csv: $actions action rows, want 2 or more"
c "$U/api/v1/reports/aef?year=$year&format=json&date=$year-12-31"; want 200 "aef json"
case $(header Content-Type) in *application/json*) ;; *) fail "aef json type: $(header Content-Type)" ;; esac
[ "$(jq '.Actions | length' "$TMP/body")" = "$actions" ] || fail "aef json: $(jq '.Actions | length' "$TMP/body") actions, csv $actions"
c -H "Authorization: Bearer $T_admin" "$U/api/v1/reports/aef?year=$year&format=xlsx"; want 200 "aef xlsx"
case $(header Content-Type) in *application/vnd.openxmlformats-officedocument.spreadsheetml.sheet*) ;;
*) fail "aef xlsx type: $(header Content-Type)" ;; esac
[ "$(head -c 2 "$TMP/body")" = PK ] || fail "aef xlsx: not a zip"
[ "$(stat -c %s "$TMP/body")" = "$(header Content-Length | tr -dc 0-9)" ] || fail "aef xlsx: length"
c "$U/api/v1/reports/aef?year=1800"; want 422 "aef, year out of range"; wantcode 1004 "year range"
c "$U/api/v1/reports/aef"; want 422 "aef without a year"
c "$U/api/v1/reports/aef?year=$year&format=pdf"; want 422 "aef, unknown format"
[ "$(jq -r .error.field "$TMP/body")" = format ] || fail "aef pdf: field $(jq -r .error.field "$TMP/body")"
# an inconsistent report: an action of no authorization, seeded in a year of its own (as tests/sh_aef.sh does)
sqlite3 "$DB" "INSERT INTO a6_action(seq, n, time, type, coop, auth_id, auth_version, ft_party, origin, first, last,
  vintage) VALUES (1, 99, '2090-06-01T00:00:00.000Z', 'Authorization', 'JCM-JPN-THA', 'A6-NONE', 1, 'THA', 'THA01', 1, 10, 2021)"
c "$U/api/v1/reports/aef?year=2090&format=csv"; want 422 "an inconsistent report"
jq -e '(.problems | length) >= 1 and (.problems[0].code == 6203) and .error.code == 6203' "$TMP/body" >/dev/null ||
  fail "inconsistent report: $(head -c 300 "$TMP/body")"
sqlite3 "$DB" "DELETE FROM a6_action WHERE n = 99 AND time LIKE '2090%'"
stop

# ---- --secure-cookies: the cookie is Secure, the origin https:// ----
start secure --secure-cookies
c -H "$JSON" -H "Origin: $ORIGIN" --data-binary "$login_body" "$U/api/v1/login"
want 403 "an http:// Origin behind --secure-cookies"
S_ORIGIN=https://${ORIGIN#http://}
c -H "$JSON" -H "Origin: $S_ORIGIN" --data-binary "$login_body" "$U/api/v1/login"; want 200 "secure login"
case $(header Set-Cookie) in *"; Secure"*) ;; *) fail "--secure-cookies: $(header Set-Cookie)" ;; esac
stop

j verify >/dev/null || fail "jcm verify after the sessions"
[ $fails -eq 0 ] && echo "sh_sessions: ok" || echo "sh_sessions: $fails failure(s)"
[ $fails -eq 0 ]
