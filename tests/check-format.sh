#!/bin/sh
# Fails when a C source or header differs from what clang-format makes of it.
set -eu
CF=$1; SRC=$2
cd "$SRC"
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find include lib src tests bench -name '*.[ch]'); do
  if ! "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
