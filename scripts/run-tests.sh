#!/usr/bin/env bash
# Runs every test program given as arguments, each in its own scratch directory, and
# adds up their "RESULT <passed> <failed>" lines into one closing line
# "N passed, N failed". Exits non-zero if any test failed or any program crashed.
set -u
passed=0; failed=0; broken=0
for t in "$@"; do
  name=$(basename "$t")
  work=$(mktemp -d "${TMPDIR:-/tmp}/oxtest.$name.XXXXXX")
  start=$(date +%s)
  out=$(cd "$work" && OX_TEST_DIR="$work" "$OLDPWD/$t" 2>&1); rc=$?
  secs=$(( $(date +%s) - start ))
  res=$(printf '%s\n' "$out" | awk '$1=="RESULT"{p=$2; f=$3} END{if (p!="") print p, f}')
  if [ -z "$res" ]; then
    printf '%s\n' "$out" | tail -n 40
    echo "BROKEN $name: exit $rc without a RESULT line"
    broken=$((broken + 1)); failed=$((failed + 1))
  else
    read -r p f <<<"$res"
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
      printf '%s\n' "$out" | grep -v '^RESULT' | tail -n 60
      [ "$f" -eq 0 ] && { failed=$((failed + 1)); echo "BROKEN $name: exit $rc"; }
    fi
    printf '%s\n' "$out" | grep '^SKIP' || true
    echo "$name: $p passed, $f failed (${secs}s)"
  fi
  rm -rf "$work"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
