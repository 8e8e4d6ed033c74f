#!/usr/bin/env bash
# memcheck.sh BUILD_DIR: every unit test of that build (ctest label "unit") under valgrind
# memcheck, one after the other. Fails when any of them reports a memory error (invalid
# read or write, use of an uninitialised value, bad free, ...) or a definite leak, or
# fails, or runs past its time limit; prints one line per test and a summary.
#
# The tests and how to run them come from ctest itself (`ctest -L unit
# --show-only=json-v1`): the command, the working directory and the environment each
# entry sets (WF_TEST_DATA, ...), so this script runs exactly what `ctest -L unit` runs.
# A sanitizer build is refused: ASan and valgrind do not run together.
#
# Leaks: only "definitely lost" fails (--errors-for-leak-kinds=definite). "Possibly lost"
# and "still reachable" blocks are the libraries' process-wide caches (OpenSSL, libcurl,
# SQLite) alive at exit, not leaks; each log has them for who wants to look.
#
# Time: each test gets MEMCHECK_TIMEOUT_SCALE (5) times its ctest TIMEOUT under valgrind
# (argon2 hashing is the slowest: test_password takes ~12 s). The whole run takes about
# a minute on a 2-core machine.
#
# Suppressions: tests/memcheck.supp when it exists, each entry with a comment saying why.
# Logs: BUILD_DIR/memcheck/<test>.log.
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR   (a build without WFREG_SANITIZE)" >&2
    exit 2
}
[ $# -eq 1 ] || usage
build=$(cd "$1" 2>/dev/null && pwd) || usage
here=$(cd "$(dirname "$0")" && pwd)
supp="$here/memcheck.supp"
scale=${MEMCHECK_TIMEOUT_SCALE:-5}

command -v valgrind >/dev/null || {
    echo "memcheck: valgrind is not installed (scripts/install-deps.sh installs it)" >&2
    exit 2
}
command -v python3 >/dev/null || { echo "memcheck: python3 is needed" >&2; exit 2; }
if grep -q '^WFREG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "memcheck: $build is a sanitizer build; valgrind needs a normal one (make memcheck)" >&2
    exit 2
fi

logs="$build/memcheck"
rm -rf "$logs"
mkdir -p "$logs"

# One line per test, fields split by US (0x1f; tabs would merge when a field is
# empty): name, time limit, then the working directory, the environment and
# the command, each shell-quoted (the names and paths come from ctest; quoting keeps
# them whole whatever they contain).
plan=$(cd "$build" && ctest -L unit --show-only=json-v1 | python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin)["tests"]:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    if "unit" not in props.get("LABELS", []):
        continue
    env = props.get("ENVIRONMENT", [])
    print("\x1f".join([t["name"], str(int(props.get("TIMEOUT", 1500))),
                     shlex.quote(props.get("WORKING_DIRECTORY", ".")),
                     " ".join(shlex.quote(e) for e in env),
                     " ".join(shlex.quote(a) for a in t["command"])]))
') || { echo "memcheck: ctest could not list the tests of $build" >&2; exit 2; }
ntests=$(printf '%s\n' "$plan" | grep -c . || true)
[ "$ntests" -gt 0 ] || { echo "memcheck: no unit tests in $build (is it built?)" >&2; exit 2; }

# shellcheck disable=SC2054 # the commas are valgrind's list of leak kinds
vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite,possible
    --track-origins=yes --num-callers=30 --gen-suppressions=all)
[ -f "$supp" ] && vg+=(--suppressions="$supp")

echo "memcheck: $ntests unit tests of $build under valgrind $(valgrind --version | sed 's/valgrind-//')"
start=$(date +%s)
failed=()
while IFS=$'\x1f' read -r name limit wd envs cmd; do
    log="$logs/${name//\//_}.log"
    t0=$(date +%s.%N)
    (eval "cd $wd && exec env $envs timeout --kill-after=10 $((limit * scale)) \
        \"\${vg[@]}\" --log-file=\"\$log\" $cmd") >"$log.out" 2>&1 </dev/null
    rc=$?
    took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d , | tail -1)
    definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -1)
    why=""
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        why="ran past its limit of $((limit * scale)) s"
    elif [ -z "$errors" ]; then
        why="valgrind wrote no summary (exit $rc)"
    elif [ "$errors" != 0 ] || [ "${definite:-0}" != 0 ]; then
        why="$errors errors, ${definite:-0} bytes definitely lost"
    elif [ "$rc" -ne 0 ]; then
        why="the test failed (exit $rc)"
    fi
    if [ -z "$why" ]; then
        printf '  ok    %-34s %6s s\n' "$name" "$took"
    else
        printf '  FAIL  %-34s %6s s  %s\n' "$name" "$took" "$why"
        failed+=("$name: $why (log: $log)")
    fi
done <<<"$plan"
total=$(($(date +%s) - start))

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "memcheck: all $ntests unit tests clean (no error, no definite leak) in ${total} s"
    exit 0
fi
echo "memcheck: ${#failed[@]} of $ntests unit tests FAILED (${total} s):"
for f in "${failed[@]}"; do
    echo "  $f"
done
# The first report of each failing test, to read without opening the logs.
for f in "${failed[@]}"; do
    log=${f##*(log: }
    log=${log%)}
    echo
    echo "--- ${f%%:*}: $log"
    grep -v '^==[0-9]*== *$' "$log" 2>/dev/null | sed -n '/== \(Invalid\|Conditional\|Use of\|Mismatched\|Syscall\|Source and\|Argument\|[0-9,]* bytes in [0-9,]* blocks are definitely\)/,$p' | head -40
    tail -5 "$log.out" 2>/dev/null
done
exit 1
