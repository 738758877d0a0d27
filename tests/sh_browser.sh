#!/bin/sh
# The web UI (docs/web.md) in a real browser: Debian's chromium driven by
# playwright-core from npm (no browser download), against `jcm serve` on
# 127.0.0.1 over the TH014 demo store. First, without a browser, the static
# file serving: types, security headers, and every way out of the web
# directory refused. Then tests/browser/ui.test.mjs: the public pages, sign
# in, a refused and then a done transfer, the statement changed, Japanese,
# a government account's transfer approved by a second administrator.
# Screenshots go to TMP/screenshots. Exit 77 (skipped) only when npm cannot
# reach its registry to install playwright-core.
#   sh tests/sh_browser.sh JCM TMP SOURCE_DIR
set -u
JCM=$1; TMP=$2/sh_browser; SRC=$3
SHOTS=$2/screenshots
NPMDIR=$2/browser-npm # node_modules live in the build tree, never in the sources
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v curl >/dev/null || { echo "sh_browser: needs curl (scripts/install-deps)"; exit 1; }
rm -rf "$TMP" "$SHOTS"; mkdir -p "$TMP" "$SHOTS"
DB=$TMP/demo-THA01.db
j() { "$JCM" --db "$DB" "$@"; }

# ---- the store: the TH014 story, an admin, a holder user, a second holding account ----
(cd "$TMP" && "$JCM" --db "$DB" demo >demo.out 2>&1) || { echo "FAIL: jcm demo"; tail "$TMP/demo.out"; exit 1; }
ADMIN_PW="browser-test admin $$"
printf '%s\n' "$ADMIN_PW" | j user add root --role admin --password-stdin >/dev/null || fail "user add root"
# a second administrator: the four-eyes approval of a government account's transfer
ADMIN2_PW="browser-test admin-2 $$"
printf '%s\n' "$ADMIN2_PW" | j user add root2 --role admin --password-stdin >/dev/null || fail "user add root2"
HOLDER_PW="browser-test holder $$"
printf '%s\n' "$HOLDER_PW" | j user add somchai --role holder --org thai-side --password-stdin >/dev/null ||
  fail "user add somchai"
# an API token of somchai's, which root2 revokes on the Users page
HOLDER_TOKEN=$(j token create somchai | head -1 | cut -c5-20)
SECOND=$(j --json account open --type holding --holder thai-side --name "Thai side second holding account" |
  sed -n 's/.*"account":"\([^"]*\)".*/\1/p')
[ -n "$SECOND" ] || { echo "FAIL: account open"; exit 1; }
# the demo sent the government account's units abroad: give it 50 back (four eyes in the browser)
j transfer --from THA01-100-000004-52 --to THA01-110-000003-21 --range 1010-1059 >/dev/null || fail "transfer to the government account"

# ---- the server ----
WEB=$TMP/web
cp -R "$SRC/web" "$WEB"
echo "outside" >"$TMP/secret.txt"
ln -s "$TMP/secret.txt" "$WEB/link.txt"
ln -s "$TMP" "$WEB/up"
echo hidden >"$WEB/.hidden.txt"
mkdir "$WEB/dir"
"$JCM" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$TMP/port" --rate 0 --web "$WEB" \
  --access-log "$TMP/access.log" 2>"$TMP/serve.err" &
PID=$!
n=0
while [ ! -s "$TMP/port" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
[ -s "$TMP/port" ] || { echo "FAIL: server did not start"; cat "$TMP/serve.err"; kill "$PID"; exit 1; }
U=http://127.0.0.1:$(cat "$TMP/port")
stop() {
  kill -TERM "$PID" 2>/dev/null
  wait "$PID"; rc=$?
  [ $rc -eq 0 ] || fail "jcm serve exited $rc after SIGTERM"
}

# ---- static files: what is served, and with which headers ----
expect() { # expect STATUS PATH [CONTENT-TYPE]
  got=$(curl -s --path-as-is -o /dev/null -w '%{http_code} %{content_type}' "$U$2")
  case "$got" in "$1${3:+ $3}"*) ;; *) fail "GET $2: '$got', expected $1 ${3:-}" ;; esac
}
expect 200 / "text/html; charset=utf-8"
expect 200 /web/app.js "text/javascript; charset=utf-8"
expect 200 /web/i18n.js "text/javascript"
expect 200 /web/style.css "text/css; charset=utf-8"
for p in /web/ /web/dir /web/dir/ /web/link.txt /web/up/secret.txt /web/.hidden.txt /web/../secret.txt \
  /web/%2e%2e/secret.txt /web/..%2fsecret.txt /web/app.js%00.css /web//app.js /web/index.html/ /web/nothing.js; do
  expect 404 "$p"
done
curl -s -o /dev/null -X POST -w '%{http_code}' "$U/web/app.js" | grep -q '^404$' || fail "POST /web/app.js served"
curl -s -D "$TMP/headers" -o /dev/null "$U/web/app.js"
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'" "X-Content-Type-Options: nosniff" \
  "Cache-Control: no-cache" "X-Frame-Options: DENY"; do
  tr -d '\r' <"$TMP/headers" | grep -qiF "$h" || fail "header missing: $h"
done
grep -q '<script[^>]*>[^<]' "$SRC/web/index.html" && fail "an inline script in index.html (the CSP forbids it)"

# ---- the browser ----
browser_rc=0
CHROMIUM=${JCM_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  fail "needs chromium, node and npm (scripts/install-deps installs them)"
else
  mkdir -p "$NPMDIR"
  cp "$SRC/tests/browser/package.json" "$SRC/tests/browser/package-lock.json" "$SRC/tests/browser/ui.test.mjs" "$NPMDIR/"
  if [ ! -d "$NPMDIR/node_modules/playwright-core" ]; then
    if ! (cd "$NPMDIR" && npm ci --no-audit --no-fund >"$TMP/npm.log" 2>&1); then
      if ! (cd "$NPMDIR" && npm ping >/dev/null 2>&1); then
        echo "SKIP: npm cannot reach its registry to install playwright-core (see $TMP/npm.log)"
        stop
        exit 77
      fi
      cat "$TMP/npm.log"
      fail "npm ci"
    fi
  fi
  if [ -d "$NPMDIR/node_modules/playwright-core" ]; then
    (cd "$NPMDIR" && JCM_ADMIN_PASSWORD="$ADMIN_PW" JCM_ADMIN2_PASSWORD="$ADMIN2_PW" JCM_SECOND_ACCOUNT="$SECOND" \
      JCM_HOLDER_PASSWORD="$HOLDER_PW" JCM_HOLDER_TOKEN="$HOLDER_TOKEN" JCM_CHROMIUM="$CHROMIUM" \
      node ui.test.mjs "$U" "$SHOTS") || browser_rc=1
    [ $browser_rc -eq 0 ] || fail "the browser test (screenshots so far in $SHOTS)"
  fi
fi

stop
# the UI's transfer is in the store and the journal still verifies
j --json balance --account "$SECOND" | grep -q '"quantity":100' || fail "the transfer made in the browser is not in the store"
# the government account's transfer, approved by root2 after root's own approval was refused
j --json pending list | grep -q '"decided_by":"root2".*"proposer":"root".*"status":"approved"' ||
  fail "the approved transfer is not completed in the pending list"
j --json balance --account THA01-100-000004-52 | grep -q '"quantity":888' || fail "the approved transfer did not reach its destination"
# the other, rejected by root2: terminated, its units back in the government account
j --json pending list | grep -q '"decided_by":"root2".*"reason":"not agreed with the Party".*"status":"terminated"' ||
  fail "the rejected transfer is not terminated in the pending list"
j --json balance --account THA01-110-000003-21 | grep -q '"quantity":20' || fail "the rejected transfer moved units"
# the users page: somchai's token revoked, somchai enabled, its password set by root2
j --json token list somchai | grep -q '"revoked_seq":[0-9]' || fail "the token revoked in the browser is not revoked"
j --json user list | grep -q '"disabled":0,"name":"somchai"' || fail "somchai is not enabled again"
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM journal WHERE cmd = 'user.password'")" = 2 ] || fail "two password changes journaled"
j verify >"$TMP/verify.out" 2>&1 || { cat "$TMP/verify.out"; fail "jcm verify after the browser session"; }
echo "sh_browser: screenshots in $SHOTS"
[ $fails -eq 0 ] && echo "sh_browser: ok" || echo "sh_browser: $fails failure(s)"
[ $fails -eq 0 ]
