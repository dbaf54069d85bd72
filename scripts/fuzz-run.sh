#!/usr/bin/env bash
# Runs the RESP parser fuzz target for FUZZ_SECONDS (default 60) from the seed corpus,
# writing new inputs to a scratch corpus so the repository's seeds stay as committed.
# Prints "RESULT 1 0" when the run is clean, "RESULT 0 1" when it found a crash.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/build/fuzz/fuzz_resp"
secs=${FUZZ_SECONDS:-60}
if [ ! -x "$bin" ]; then echo "fuzz-run: $bin not built"; echo "RESULT 0 1"; exit 1; fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/oxfuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
if "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$scratch/" \
     "$scratch" "$top/tests/fuzz/corpus" > "$scratch/log" 2>&1; then
  grep -E '^(stat::number_of_executed_units|Done)' "$scratch/log" | head -n 3
  echo "RESULT 1 0"
else
  tail -n 60 "$scratch/log"
  for f in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-*; do
    [ -e "$f" ] && { mkdir -p "$top/build/fuzz/artifacts"; cp "$f" "$top/build/fuzz/artifacts/"; }
  done
  echo "fuzz-run: artifacts kept in build/fuzz/artifacts/"
  echo "RESULT 0 1"
  exit 1
fi
