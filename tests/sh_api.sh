#!/bin/sh
# The HTTP API against a real `jcm serve` on 127.0.0.1 (docs/server.md):
# every route answering as its OpenAPI document says, the authorization
# matrix (every role x every command and query), holders confined to their
# own accounts, hostile input refused cleanly with the store unchanged
# (except journaled security events), and a clean SIGTERM shutdown.
# Nothing here asserts on timing; waiting for the server to listen is a loop.
set -u
JCM=$1; TMP=$2/sh_api
command -v curl >/dev/null && command -v jq >/dev/null || { echo "sh_api: needs curl and jq (scripts/install-deps)"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP"
DB=$TMP/api.db
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
j() { "$JCM" --db "$DB" "$@"; }

# ---- a store with one user per role ----
j init --registry THA01 --party THA --name "Thailand registry" >/dev/null
for o in org-a org-b tgo; do j org add --id $o --name "$o" --country THA >/dev/null; done
j project import --project TH014 --title "Floating solar" --host THA --status registered --source test >/dev/null
A=$(j --json account open --type holding --holder org-a --name A | jq -r .result.account)
B=$(j --json account open --type holding --holder org-b --name B | jq -r .result.account)
j account open --type retirement --holder tgo --name R >/dev/null
[ -n "$A" ] && [ -n "$B" ] || { echo "FAIL: setup"; exit 1; }
printf '' | j user add nobody --role holder --org org-a --password-stdin >/dev/null 2>&1 && fail "empty password accepted"
printf 'short\n' | j user add root --role admin --password-stdin >/dev/null 2>&1 && fail "weak password accepted"
j user add ha --role holder --org org-a >/dev/null 2>&1 && fail "first user not an admin accepted"
printf 'a long admin password\n' | j user add root --role admin --password-stdin >/dev/null || fail "user add root"
j user add ha --role holder --org org-a >/dev/null || fail "user add ha"
j user add hb --role holder --org org-b >/dev/null || fail "user add hb"
for r in jc_secretariat tpe auditor peer; do j user add "u-$r" --role $r >/dev/null || fail "user add $r"; done
tok() { j token create "$1" | head -1; }
T_admin=$(tok root); T_holder=$(tok ha); T_hb=$(tok hb)
T_jc_secretariat=$(tok u-jc_secretariat); T_tpe=$(tok u-tpe); T_auditor=$(tok u-auditor); T_peer=$(tok u-peer)
case $T_admin in jcm_*) ;; *) fail "token create printed '$T_admin'" ;; esac

# ---- the server ----
start() { # start NAME [serve options]: sets PID and U
  name=$1; shift
  rm -f "$TMP/$name.port"
  "$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$TMP/$name.port" --access-log "$TMP/$name.log" "$@" \
    2>"$TMP/$name.err" &
  PID=$!
  n=0
  while [ ! -s "$TMP/$name.port" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  [ -s "$TMP/$name.port" ] || { echo "FAIL: server did not start"; cat "$TMP/$name.err"; kill "$PID"; exit 1; }
  U=http://127.0.0.1:$(cat "$TMP/$name.port")
}
start api --rate 0 --threads 2

# req METHOD PATH TOKEN [BODY [CONTENT-TYPE]]: $code, body in $TMP/body
req() {
  m=$1 p=$2 t=$3
  set -- -s -o "$TMP/body" -w '%{http_code}' -X "$m" --path-as-is
  [ -n "$t" ] && set -- "$@" -H "Authorization: Bearer $t"
  if [ $# -ge 0 ] && [ -n "${BODY+x}" ]; then set -- "$@" -H "Content-Type: ${CT:-application/json}" --data-binary "$BODY"; fi
  code=$(curl "$@" "$U$p")
}
call() { # call METHOD PATH TOKEN [BODY [CT]]
  if [ $# -ge 4 ]; then BODY=$4 CT=${5:-application/json} req "$1" "$2" "$3"; else unset BODY; req "$1" "$2" "$3"; fi
}
want() { # want CODE LABEL
  [ "$code" = "$1" ] || { fail "$2: HTTP $code, want $1: $(head -c 300 "$TMP/body")"; return 1; }
}
error_shape() { jq -e '.error | (.code|type=="number") and (.message|type=="string") and (.field|type=="string")' \
  "$TMP/body" >/dev/null || fail "$1: not an error object: $(head -c 200 "$TMP/body")"; }

# ---- every route, success ----
call GET /healthz ""; want 200 healthz
call GET /metrics ""; want 200 metrics
grep -q '^jcm_http_requests_total' "$TMP/body" || fail "metrics: no request counter"
call GET /api/v1/openapi.json ""; want 200 openapi; cp "$TMP/body" "$TMP/openapi.json"
jq -e '.openapi | startswith("3.")' "$TMP/openapi.json" >/dev/null || fail "openapi: not OpenAPI 3"
call POST /api/v1/login "" '{"name":"root","password":"a long admin password"}'; want 200 login
S=$(jq -r .token "$TMP/body")
call POST /api/v1/login "" '{"name":"root","password":"wrong password!"}'; want 401 "login, wrong password"; error_shape login
call POST /api/v1/login "" '{"name":"ghost","password":"wrong password!"}'; want 401 "login, unknown user"
call GET /api/v1/queries/accounts "$S"; want 200 "query with a session"
call GET /api/v1/queries/accounts "jcs_0000000000000000000000000000000000000000000000000000000000000000"
want 401 "unknown session"
call GET /api/v1/queries/accounts "jcm_0000000000000000000000000000000000000000000000000000000000000000"
want 401 "unknown token"

# the project cycle through the API, each step by its role
cmd() { # cmd NAME ROLE BODY WANT
  eval "t=\$T_$2"
  call POST "/api/v1/commands/$1" "$t" "$3"; want "$4" "$1 by $2"
}
cmd monitoring.submit jc_secretariat '{"project":"TH014","first_day":"2021-01-01","last_day":"2021-12-31","calculated":2017}' 200
cmd monitoring.verify tpe '{"project":"TH014","first_day":"2021-01-01","last_day":"2021-12-31","verified":2017,"report":"v"}' 200
cmd issue jc_secretariat "{\"meeting\":7,\"date\":\"2025-10-30\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\",\"last_day\":\"2021-12-31\",\"total\":2017,\"allocation\":[{\"account\":\"$A\",\"quantity\":1009},{\"account\":\"$B\",\"quantity\":1008}]}" 200
cmd transfer holder "{\"from\":\"$A\",\"to\":\"$B\",\"quantity\":9}" 200
TX=$(jq -r .result.tx "$TMP/body")
cmd retire admin "{\"from\":\"$B\",\"quantity\":8}" 200
cmd transfer holder "{\"from\":\"$A\",\"to\":\"$B\",\"quantity\":999999}" 422
[ "$(jq .error.code "$TMP/body")" = 4001 ] || fail "insufficient units: code $(jq .error.code "$TMP/body")"
cmd org.add admin '{"id":"org-a","name":"again","country":"THA"}' 422
cmd org.add admin '{"cmd":"org.add","id":"org-x","name":"X","country":"THA"}' 422

# batch: JSON lines, as jcm apply
printf '%s\n' '{"cmd":"org.add","id":"org-c","name":"C","country":"THA"}' 'not json' '{"cmd":"nope"}' >"$TMP/batch"
call POST /api/v1/batch "$T_admin" "$(cat "$TMP/batch")" application/x-ndjson; want 200 batch
[ "$(wc -l <"$TMP/body")" -eq 3 ] || fail "batch: $(wc -l <"$TMP/body") result lines, want 3"
codes=$(jq -c '.error.code // 0' "$TMP/body" | tr '\n' ' ')
[ "$codes" = "0 1001 1006 " ] || fail "batch codes: $codes"
call POST /api/v1/batch "" "$(cat "$TMP/batch")" application/x-ndjson; want 401 "batch without a token"

# ---- the OpenAPI document against the server ----
ncmd=$(jq '[.paths | keys[] | select(startswith("/api/v1/commands/"))] | length' "$TMP/openapi.json")
nq=$(jq '[.paths | keys[] | select(startswith("/api/v1/queries/"))] | length' "$TMP/openapi.json")
[ "$ncmd" -ge 30 ] && [ "$nq" -ge 20 ] || fail "openapi lists $ncmd commands and $nq queries"
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[] | "\($p) \(.key) \(.value.responses | keys | join(","))"' \
  "$TMP/openapi.json" >"$TMP/ops"
while read -r path method statuses; do
  M=$(echo "$method" | tr a-z A-Z)
  for t in "" "$T_admin" "$T_holder"; do
    case $M in POST) call POST "$path" "$t" '{}' ;; *) call GET "$path" "$t" ;; esac
    case ",$statuses," in *",$code,"*) ;; *) fail "openapi: $M $path answered $code, documents $statuses" ;; esac
    case $code in 4*) error_shape "$M $path" ;; esac
    case $code in 200) [ "$path" = /metrics ] || jq -e . "$TMP/body" >/dev/null 2>&1 ||
      [ "$path" = /api/v1/batch ] || fail "$path: 200 without JSON" ;; esac
  done
done <"$TMP/ops"
for name in $(jq -r '.paths | keys[] | select(startswith("/api/v1/queries/"))' "$TMP/openapi.json"); do
  q=$(jq -c --arg p "$name" '.paths[$p].get' "$TMP/openapi.json")
  [ "$(echo "$q" | jq '.responses["200"].content["application/json"].schema["$ref"] == "#/components/schemas/Page"')" = true ] || continue
  call GET "$name?limit=1&offset=0" "$T_auditor"; want 200 "$name paged"
  jq -e '.limit == 1 and .offset == 0 and (.rows | length <= 1)' "$TMP/body" >/dev/null || fail "$name: page shape"
done

# ---- authorization matrix: every role x every route only some roles may call ----
# The document marks each (x-jcm-roles, built from the command table and,
# for queries, asked of the library role by role); the server must answer
# each role as it says: a role listed is never refused for its role, any
# other gets 403/8001, the public 401/8005 (public queries excepted).
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
  | "\($p) \(.key) \(.value["x-public"] // false) \((.value["x-jcm-roles"] // []) | join(","))"' \
  "$TMP/openapi.json" >"$TMP/roles"
grep -q '^/api/v1/queries/pending get false admin,auditor$' "$TMP/roles" || fail "pending: not marked admin,auditor"
while read -r path method public roles; do
  case $path in /api/v1/commands/*|/api/v1/queries/*) ;; *) continue ;; esac
  M=$(echo "$method" | tr a-z A-Z)
  ask() { if [ "$M" = POST ]; then call POST "$path" "$1" '{}'; else call GET "$path" "$1"; fi; }
  ask ""
  if [ "$public" = true ]; then [ "$code" != 401 ] && [ "$code" != 403 ] || fail "$path public: $code"
  else want 401 "$path by the public"; fi
  [ "$public" = true ] && [ -n "$roles" ] && fail "$path: public, yet marked for $roles"
  [ "$public" = true ] || [ -n "$roles" ] || fail "$path: neither public nor marked with x-jcm-roles"
  for r in admin jc_secretariat holder tpe auditor peer; do
    eval "t=\$T_$r"
    ask "$t"
    case "$public,$roles," in
    true,*|*",$r,"*) [ "$code" != 401 ] && [ "$code" != 403 ] || fail "$M $path by $r: $code, but the document allows $r" ;;
    *) want 403 "$M $path by $r (allowed: $roles)" && [ "$(jq .error.code "$TMP/body")" = 8001 ] || fail "$path by $r: not 8001" ;;
    esac
  done
done <"$TMP/roles"
# ---- a holder never sees or moves another holder's account ----
for q in "balance?account=$B" "blocks?account=$B" "statement?account=$B" "accounts?holder=org-b" "tx?id=$TX"; do
  call GET "/api/v1/queries/$q" "$T_hb"
  case $q in tx*) want 200 "holder B reads the transfer it received" ;; *) want 200 "holder B reads its own $q" ;; esac
  call GET "/api/v1/queries/$(echo "$q" | sed "s/$B/$A/; s/org-b/org-a/")" "$T_hb"
  case $q in tx*) ;; *) want 403 "holder B reads A's: $q" && [ "$(jq .error.code "$TMP/body")" = 8002 ] || fail "$q: not 8002" ;; esac
done
call GET "/api/v1/queries/accounts" "$T_hb"; want 200 "holder accounts"
[ "$(jq -r '[.rows[].holder] | unique | join(",")' "$TMP/body")" = org-b ] || fail "holder B sees others' accounts"
cmd transfer holder "{\"from\":\"$B\",\"to\":\"$A\",\"quantity\":1}" 403
# guessing: every account number 1..20 of every type; only A's own answer
for ty in 100 110 300 400; do for n in $(seq 1 20); do
  acct=$(j account list --json 2>/dev/null | jq -r '.rows[].id' | grep "THA01-$ty-$(printf %06d "$n")-" || true)
  [ -n "$acct" ] || continue
  call GET "/api/v1/queries/balance?account=$acct" "$T_holder"
  if [ "$acct" = "$A" ]; then want 200 "own $acct"; else want 403 "guess $acct"; fi
  call POST /api/v1/commands/transfer "$T_holder" "{\"from\":\"$acct\",\"to\":\"$A\",\"quantity\":1}"
  [ "$acct" = "$A" ] || want 403 "move from guessed $acct"
done; done
call GET "/api/v1/queries/balance?account=THA01-100-000099-99" "$T_holder"; want 403 "unknown account id"

# ---- hostile input: refused cleanly, server keeps serving, store unchanged ----
dump() { for t in $(sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"); do
  if [ "$t" = journal ]; then sqlite3 "$DB" "SELECT seq, actor, role, cmd, hex(hash) FROM journal WHERE cmd <> 'security.event' ORDER BY seq"
  else echo "== $t"; sqlite3 "$DB" "SELECT * FROM \"$t\" ORDER BY 1"; fi; done; }
dump >"$TMP/before"
EVIL="'; DROP TABLE account;--"
call POST /api/v1/commands/org.add "$T_admin" '{"id":"org-y",'; want 400 "malformed JSON"; error_shape malformed
call POST /api/v1/commands/org.add "$T_admin" '[1,2]'; want 400 "array body"
call POST /api/v1/commands/org.add "$T_admin" '{"id":"org-y","name":"Y","country":"THA"}' text/plain; want 415 "text/plain"
call POST /api/v1/commands/org.add "$T_admin" '{"id":"org-y","name":"Y","country":"THA"}' application/xml; want 415 "xml"
head -c 2097152 /dev/zero | tr '\0' 'x' >"$TMP/big"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $T_admin" -H 'Content-Type: application/json' \
  --data-binary @"$TMP/big" "$U/api/v1/commands/org.add"); want 413 "2 MiB body"
for p in /api/v1/commands/../queries/accounts /api/v1/queries/../../etc/passwd /api/v1/queries/%2e%2e%2fjournal \
  /api/v1/commands/org.add/../../x /../etc/passwd "/api/v1/queries/accounts%00" /api/v2/queries/accounts; do
  call GET "$p" "$T_admin"; case $code in 404|405) ;; *) fail "path $p: $code" ;; esac
done
call PUT /api/v1/commands/org.add "$T_admin" '{}'; want 405 "PUT"
call GET "/api/v1/queries/accounts?limit=5&limit=6" "$T_admin"; want 400 "parameter twice"
call GET "/api/v1/queries/accounts?limit=abc" "$T_admin"; want 422 "limit text"
# SQL metacharacters in every string field of every command, and every query parameter
jq -r '.paths | to_entries[] | select(.key | startswith("/api/v1/commands/")) | .key as $p
  | .value.post.requestBody.content["application/json"].schema.properties | to_entries[]
  | select(.value.type == "string") | "\($p) \(.key)"' "$TMP/openapi.json" >"$TMP/fields"
while read -r path field; do
  body=$(jq -cn --arg f "$field" --arg v "$EVIL" '{($f): $v}')
  call POST "$path" "$T_admin" "$body"
  case $code in 400|403|422) ;; *) fail "$path $field=evil: $code" ;; esac
done <"$TMP/fields"
enc=$(printf %s "$EVIL" | jq -sRr @uri)
jq -r '.paths | to_entries[] | select(.key | startswith("/api/v1/queries/")) | .key as $p
  | .value.get.parameters[] | "\($p) \(.name)"' "$TMP/openapi.json" | while read -r path param; do
  call GET "$path?$param=$enc" "$T_admin"
  case $code in 200|400|422) ;; *) echo "FAIL: $path?$param=evil: $code" >>"$TMP/qfails" ;; esac
done
[ -s "$TMP/qfails" ] && { cat "$TMP/qfails"; fails=$((fails + 1)); }
call GET /healthz ""; want 200 "still serving after hostile input"
dump >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { fail "store changed by refused requests"; diff "$TMP/before" "$TMP/after" | head; }
# stored verbatim, never executed
cmd org.add admin "$(jq -cn --arg v "$EVIL" '{id:"org-z",name:$v,country:"THA"}')" 200
call GET "/api/v1/queries/orgs" "$T_auditor"
[ "$(jq -r '.rows[] | select(.id=="org-z") | .name' "$TMP/body")" = "$EVIL" ] || fail "evil name not stored verbatim"
[ "$(sqlite3 "$DB" 'SELECT COUNT(*) FROM account')" -ge 3 ] || fail "account table damaged"
# the refusals and logins are in the journal
n=$(sqlite3 "$DB" "SELECT COUNT(*) FROM journal WHERE cmd = 'security.event'")
[ "$n" -gt 10 ] || fail "only $n security events journaled"
for k in login login_failed refused token_refused; do
  sqlite3 "$DB" "SELECT bytes FROM journal WHERE cmd = 'security.event'" | grep -q "\"kind\":\"$k\"" || fail "no $k event"
done
sqlite3 "$DB" "SELECT bytes FROM journal" | grep -q "a long admin password" && fail "a password is in the journal"
sqlite3 "$DB" "SELECT bytes FROM journal" | grep -q "${T_admin#jcm_????????????????}" && fail "a token is in the journal"
# the access log: one JSON object per line
jq -e -c 'select(.status == null or .path == null)' "$TMP/api.log" >/dev/null 2>&1 && fail "access log line without status"
jq -s -e 'length > 100' "$TMP/api.log" >/dev/null || fail "access log is not JSON lines"
# the client's address is kept per connection (http.c on_connection): on loopback, always 127.0.0.1
jq -e -c 'select(.client != "127.0.0.1")' "$TMP/api.log" >/dev/null 2>&1 && fail "access log line with another client"
# the time taken as printf's %.1f would write it
grep -v -E '"ms":[0-9]+\.[0-9][,}]' "$TMP/api.log" | grep -q . && fail "access log line with a malformed ms"

# ---- a batch broken by a command refused after it wrote ----
# An approval re-checks its transfer after releasing the units: refused then,
# it has written, so the batch cannot keep the commands before it (a batch
# has no savepoint per command, lib/engine.c). The server runs each line
# again alone: the others take effect, the approval is refused with its code.
# Too many lines: refused whole, before any runs.
G=$(j --json account open --type government-holding --holder org-a --name G | jq -r .result.account)
printf 'a second admin password\n' | j user add root2 --role admin --password-stdin >/dev/null || fail "user add root2"
T_admin2=$(tok root2)
cmd transfer holder "{\"from\":\"$A\",\"to\":\"$G\",\"quantity\":10}" 200
cmd transfer admin "{\"from\":\"$G\",\"to\":\"$B\",\"quantity\":5}" 200
held=$(jq -r .result.tx "$TMP/body")
[ "$(jq -r .result.status "$TMP/body")" = "awaiting approval" ] || fail "government transfer not held"
cmd account.status admin "{\"account\":\"$B\",\"status\":\"blocked\",\"reason\":\"r\"}" 200
printf '%s\n' '{"cmd":"org.add","id":"org-e","name":"E","country":"THA"}' "{\"cmd\":\"tx.approve\",\"tx\":\"$held\"}" \
  '{"cmd":"monitoring.verify","project":"TH014","first_day":"2021-01-01","last_day":"2021-12-31","verified":1,"report":"v"}' \
  '{"cmd":"org.add","id":"org-f","name":"F","country":"THA"}' >"$TMP/broken"
events() { sqlite3 "$DB" "SELECT COUNT(*) FROM journal WHERE cmd = 'security.event'"; }
ev0=$(events)
call POST /api/v1/batch "$T_admin2" "$(cat "$TMP/broken")" application/x-ndjson; want 200 "broken batch"
codes=$(jq -c 'if .ok then "ok" else .error.code end' "$TMP/body" | tr '\n' ' ')
[ "$codes" = '"ok" 3002 8001 "ok" ' ] || fail "broken batch results: $codes"
# the role refusal's security event: journaled once, for the results that stand
[ "$(events)" -eq $((ev0 + 1)) ] || fail "broken batch: $(($(events) - ev0)) security events, want 1"
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM org WHERE id IN ('org-e', 'org-f')")" = 2 ] || fail "broken batch: orgs not added"
[ "$(sqlite3 "$DB" "SELECT status FROM pending WHERE id = '$held'")" = "awaiting approval" ] || fail "refused approval changed its hold"
cmd account.status admin "{\"account\":\"$B\",\"status\":\"open\",\"reason\":\"r\"}" 200
seq 1 10001 | sed 's/.*/{"cmd":"org.add","id":"org-m&","name":"M","country":"THA"}/' >"$TMP/many"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $T_admin" \
  -H "Content-Type: application/x-ndjson" --data-binary @"$TMP/many" "$U/api/v1/batch")
want 413 "a batch of 10,001 lines"
[ "$(jq .error.code "$TMP/body")" = 1019 ] || fail "a batch of 10,001 lines: code $(jq .error.code "$TMP/body")"
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM org WHERE id LIKE 'org-m%'")" = 0 ] || fail "a batch refused as too large took effect"

# ---- SIGTERM: exits 0, the store verifies ----
kill -TERM "$PID"; wait "$PID"; rc=$?
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
j verify >/dev/null || fail "verify after the server"

# ---- rate limit: a small budget runs out (refill is 5 a minute: no race) ----
start rate --rate 5
got429=0
for i in 1 2 3 4 5 6 7 8 9 10; do call GET /api/v1/queries/projects ""; [ "$code" = 429 ] && got429=1; done
[ $got429 -eq 1 ] || fail "no 429 after 10 requests at 5 a minute"
call GET /healthz ""; want 200 "healthz is not rate limited"
kill -TERM "$PID"; wait "$PID" || fail "rate server exit"

# every value of the journal forged in turn: verify survives each (tests/forge_check.c)
"${4:?the forge_check program (tests/CMakeLists.txt passes it)}" "$DB" || fail "a forged value of $DB broke verify"

[ $fails -eq 0 ] && echo "sh_api: ok" || echo "sh_api: $fails failures"
[ $fails -eq 0 ]
