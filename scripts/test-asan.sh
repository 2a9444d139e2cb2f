#!/bin/sh
# `make test-asan`: the unit and end-to-end tests built with AddressSanitizer (its own build
# folder, .build-asan; the tests run that build's spoolrun binary too). LeakSanitizer runs
# with them: scripts/lsan.supp lists the suppressions, each with its reason.
# Usage: scripts/test-asan.sh [--filter REGEX]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=.build-asan
swift build --build-tests --scratch-path "$OUT" -Xswiftc -sanitize=address
export ASAN_OPTIONS="detect_leaks=${SPOOLRUN_DETECT_LEAKS:-1}:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0"
swift test --skip-build --scratch-path "$OUT" --disable-swift-testing "$@"
