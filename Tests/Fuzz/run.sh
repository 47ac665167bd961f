#!/usr/bin/env bash
# Fuzzes the path resolver (RequestTarget.parse) with libFuzzer for SECONDS (default 60).
#
#   bash Tests/Fuzz/run.sh SECONDS        (make fuzz FUZZ_SECONDS=SECONDS)
#
# Builds .build-fuzz/path-fuzz from Sources/DevServeHTTP/RequestTarget.swift and
# Tests/Fuzz/PathFuzz.swift with -sanitize=fuzzer,address, runs it on a copy of Tests/Fuzz/seeds,
# prints how many inputs it ran and whether it found a violation. Exit status: 0 when nothing was
# found, 1 when an input broke the property (kept in fuzz-artifacts/), 2 when it could not run.
#
# Needs nothing beyond a swift.org toolchain: libFuzzer and AddressSanitizer ship inside it
# (usr/lib/swift/clang/lib/linux/libclang_rt.fuzzer-*.a); the linker and C++ runtime are the
# ones Swift already needs (binutils-gold, libstdc++-12-dev on Debian 12).
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
    '' | *[!0-9]* | 0)
        echo "usage: bash Tests/Fuzz/run.sh SECONDS (a whole number of seconds, at least 1)" >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")/../.."
swiftc="${SWIFTC:-swiftc}"
if ! command -v "$swiftc" >/dev/null 2>&1; then
    echo "make fuzz needs swiftc on PATH: install a Swift toolchain from swift.org." >&2
    exit 2
fi

resources="$("$swiftc" -print-target-info | sed -n 's/.*"runtimeResourcePath": "\(.*\)".*/\1/p' | head -n 1)"
if ! ls "$resources"/clang/lib/*/libclang_rt.fuzzer*.a >/dev/null 2>&1 &&
    ! ls "$resources"/clang/lib/*/*/libclang_rt.fuzzer*.a >/dev/null 2>&1; then
    echo "This Swift toolchain has no libFuzzer runtime (libclang_rt.fuzzer under $resources/clang/lib):" \
        "install the swift.org toolchain, which ships it." >&2
    exit 2
fi

mkdir -p .build-fuzz
binary=.build-fuzz/path-fuzz
compile_log=.build-fuzz/compile.log
echo "Building $binary (swiftc -sanitize=fuzzer,address -O)"
if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O \
    Sources/DevServeHTTP/RequestTarget.swift Tests/Fuzz/PathFuzz.swift -o "$binary" >"$compile_log" 2>&1; then
    cat "$compile_log" >&2
    echo "Building the fuzz target failed: see the messages above." >&2
    exit 2
fi
# ld.gold warns about AddressSanitizer's local symbols on every link; anything else is shown.
grep -v -e "Cannot export local symbol" "$compile_log" >&2 || true

corpus="$(mktemp -d "${TMPDIR:-/tmp}/devserve-fuzz-corpus.XXXXXX")"
log="$(mktemp "${TMPDIR:-/tmp}/devserve-fuzz-log.XXXXXX")"
trap 'rm -rf "$corpus" "$log"' EXIT
cp Tests/Fuzz/seeds/* "$corpus"/
artifacts=fuzz-artifacts
mkdir -p "$artifacts"

echo "Fuzzing the path resolver for $seconds s ($(ls "$corpus" | wc -l) seeds)"
status=0
# SWIFT_BACKTRACE=enable=no: a failed check must abort at once for libFuzzer to catch it (the
# Swift backtracer would otherwise hold the process). Leak checking is off: the Swift runtime's
# metadata caches look like leaks to LeakSanitizer.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" \
    "$binary" "$corpus" -max_total_time="$seconds" -max_len=512 -timeout=10 -rss_limit_mb=2048 \
    -dict=Tests/Fuzz/path.dict -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?

runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1 || true)"
if [ -z "$runs" ]; then
    runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1 || true)"
fi
speed="$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1 || true)"
coverage="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //' || true)"
corpus_size="$(ls "$corpus" | wc -l)"

if [ "$status" -ne 0 ]; then
    grep -E "Fatal error|ERROR: |SUMMARY: |Test unit written to" "$log" >&2 || tail -n 30 "$log" >&2
    echo "path fuzz: FOUND a violation after ${runs:-?} executions; the input is in $artifacts/ (see above)." >&2
    echo "Replay it with: $binary $artifacts/<file>" >&2
    exit 1
fi
echo "path fuzz: ${runs:-?} executions in $seconds s (${speed:-?}/s), coverage ${coverage:-?} edges," \
    "corpus grew to $corpus_size inputs: nothing found."
