#!/usr/bin/env bash
# run.sh: one libFuzzer target for FUZZ_SECONDS (default 60), as ctest runs it.
#
#   run.sh TARGET SEEDS WORK [DICT]
#
# The working corpus is WORK/corpus: the committed SEEDS are copied in (an earlier run's
# finds stay, so a local corpus grows from run to run), and new inputs are written there,
# never into the repository. A crash, leak, timeout or out-of-memory input is saved in
# WORK/artifacts/ and fails the test; so does any sanitizer report in the log, even one
# that did not stop the run. The last line is libFuzzer's "Done N runs in T second(s)".
set -u

target=$1 seeds=$2 work=$3 dict=${4:-}
secs=${FUZZ_SECONDS:-60}
name=$(basename "$target")
case $secs in '' | *[!0-9]*) echo "FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;; esac

mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
log=$work/fuzz.log

# Leaks are reported (LeakSanitizer, on by default under libFuzzer); UBSan stops at the
# first report (-fno-sanitize-recover) with a stack trace.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$work/artifacts/")
[ -n "$dict" ] && args+=(-dict="$dict")

"$target" "${args[@]}" "$work/corpus" >"$log" 2>&1
rc=$?

bad=0
if [ $rc -ne 0 ]; then
    echo "$name: libFuzzer exited with $rc" >&2
    bad=1
fi
if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|WARNING: .*Sanitizer' "$log"; then
    echo "$name: a sanitizer or libFuzzer reported a problem" >&2
    bad=1
fi
if [ $bad -ne 0 ]; then
    # the report and what led to it; the input is in WORK/artifacts/
    grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' "$log" | tail -n 80
    ls -l "$work/artifacts/" >&2
    exit 1
fi
grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log"
echo "corpus: $(find "$work/corpus" -type f | wc -l) inputs ($(find "$seeds" -type f | wc -l) seeds)"
echo "$name: $(grep -E '^Done [0-9]+ runs in' "$log" | tail -n 1)"
