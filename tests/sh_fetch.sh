#!/bin/sh
# scripts/fetch-sqlite builds only the SQLite it pinned: a tarball whose
# SHA-256 differs is refused and nothing is written; an install that has the
# pinned version already is left as it is, without a download.
set -u
TMP=$2; SRC=$3
FETCH=$SRC/scripts/fetch-sqlite
W=$TMP/sh_fetch
rm -rf "$W"; mkdir -p "$W/in"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# a tarball with the right name and layout but other contents
mkdir -p "$W/in/sqlite-autoconf-3520000"
echo 'int forged;' >"$W/in/sqlite-autoconf-3520000/sqlite3.c"
echo '/* forged */' >"$W/in/sqlite-autoconf-3520000/sqlite3.h"
tar -czf "$W/forged.tar.gz" -C "$W/in" sqlite-autoconf-3520000
if JCM_SQLITE_DIR=$W/out JCM_SQLITE_TARBALL=$W/forged.tar.gz sh "$FETCH" >"$W/out.txt" 2>"$W/err.txt"; then
  fail "a tarball with another checksum was accepted"
fi
grep -q "expected f6b50b0c" "$W/err.txt" && grep -q "refused" "$W/err.txt" || {
  fail "the refusal does not name the expected checksum"; cat "$W/err.txt"; }
[ -e "$W/out/sqlite3.c" ] && fail "a refused tarball's sqlite3.c was written"

# a missing tarball is an error, not a silent download
if JCM_SQLITE_DIR=$W/out2 JCM_SQLITE_TARBALL=$W/none.tar.gz sh "$FETCH" >/dev/null 2>&1; then
  fail "a missing JCM_SQLITE_TARBALL was accepted"
fi

# the pinned version present: nothing to do, nothing touched (no network needed)
mkdir -p "$W/have"
echo 3520000 >"$W/have/VERSION"; echo 'kept' >"$W/have/sqlite3.c"; echo 'kept' >"$W/have/sqlite3.h"
JCM_SQLITE_DIR=$W/have JCM_SQLITE_TARBALL=$W/forged.tar.gz sh "$FETCH" || fail "an up-to-date install was not left alone"
[ "$(cat "$W/have/sqlite3.c")" = kept ] || fail "an up-to-date install was rewritten"

# another version present: fetched again (here: refused, the tarball being forged)
echo 3400100 >"$W/have/VERSION"
if JCM_SQLITE_DIR=$W/have JCM_SQLITE_TARBALL=$W/forged.tar.gz sh "$FETCH" >/dev/null 2>&1; then
  fail "an install of another version was kept"
fi

[ "$fails" -eq 0 ] && echo "sh_fetch: all passed"
exit "$fails"
