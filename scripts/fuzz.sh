#!/bin/sh
# `make fuzz`: builds spoolrun-fuzz with libFuzzer and AddressSanitizer (its own build folder,
# .build-fuzz) and runs each target for a bounded time, seeded from ../shared/corpus and the
# project's examples. What libFuzzer learns stays in .build-fuzz/corpus/TARGET between runs;
# a crashing input lands in .build-fuzz/findings/TARGET/ and the run fails (not artifacts/:
# SwiftPM clears that folder of its scratch path when it builds). Replay one with
#   .build/debug/spoolrun-fuzz TARGET FILE   (and add it to Tests/Fuzz/regressions/TARGET/).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; $FUZZ_TARGETS picks targets)
set -eu
PER=${1:-${FUZZ_SECONDS:-60}}
TARGETS=${FUZZ_TARGETS:-"intake envelope payload mime sanitizer receipt-log"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SPOOLRUN_SHARED:-$ROOT/../shared}
OUT=$ROOT/.build-fuzz
FLAGS="-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DSPOOLRUN_LIBFUZZER"

swift build --scratch-path "$OUT" -c debug --product spoolrun-fuzz $FLAGS
BIN="$(swift build --scratch-path "$OUT" -c debug --show-bin-path $FLAGS)/spoolrun-fuzz"
# Seeds in a folder of this run's own, so two runs (different targets) can share .build-fuzz.
mkdir -p "$OUT"
SEEDS=$(mktemp -d "$OUT/seeds.XXXXXX")
trap 'rm -rf "$SEEDS"' EXIT
python3 "$ROOT/scripts/fuzz-seeds.py" "$SHARED" "$ROOT" "$SEEDS"

failed=0
printf '%-12s %8s %10s %8s %8s %5s\n' target seconds execs corpus findings slow
for t in $TARGETS; do
  mkdir -p "$OUT/corpus/$t" "$OUT/findings/$t" "$OUT/logs" "$SEEDS/$t"
  # Leaks are the ASan run's business (make test-asan); here they would stop each run early.
  status=0
  touch "$OUT/logs/$t.start"
  SPOOLRUN_FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 "$BIN" "$OUT/corpus/$t" "$SEEDS/$t" \
    -max_total_time="$PER" -timeout=30 -rss_limit_mb=4096 -max_len=262144 \
    -artifact_prefix="$OUT/findings/$t/" -print_final_stats=1 > "$OUT/logs/$t.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$t.log" | tail -1)
  # Findings of this run only (earlier ones stay in the folder until removed): crashes,
  # leaks, timeouts and out-of-memory inputs fail the run; slow units (over 10 s once, with
  # ASan and coverage on a busy machine) are counted for a look, not failures.
  findings=$(find "$OUT/findings/$t" -type f -newer "$OUT/logs/$t.start" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  slow=$(find "$OUT/findings/$t" -type f -newer "$OUT/logs/$t.start" -name 'slow-unit-*' | wc -l)
  printf '%-12s %8s %10s %8s %8s %5s\n' "$t" "$PER" "${execs:-?}" "$(ls "$OUT/corpus/$t" | wc -l)" "$findings" "$slow"
  if [ "$status" != 0 ] || [ "$findings" != 0 ]; then
    failed=1
    echo "  $t: libFuzzer exited $status; see $OUT/logs/$t.log and $OUT/findings/$t/" >&2
  fi
done
exit $failed
