#!/usr/bin/env bash
# The command line's surface: version, help on every command, usage errors.
. "$(dirname "$0")/lib.sh"

run --version
expect_code 0 "--version"
expect_out "wfreg " "--version prints the name"

run --help
expect_code 0 "--help"
expect_out "engines" "--help lists engines"
expect_out "DATABASE_URL" "--help names the configuration"

run
expect_code 2 "no command is a usage error"

run frobnicate
expect_code 2 "an unknown command"
expect_err "unknown command 'frobnicate'" "an unknown command is named"

for group in engines migrate keys check; do
  run "$group" --help
  expect_code 0 "$group --help"
  expect_out "Usage: wfreg $group" "$group --help prints its usage"
done
for sub in "engines add" "engines update" "engines list" "migrate up" "keys rotate"; do
  # shellcheck disable=SC2086
  run $sub --help
  expect_code 0 "$sub --help"
done

run engines frob
expect_code 2 "unknown subcommand"
expect_err "unknown subcommand 'frob'" "unknown subcommand is named"

# Every group reads "--" as the end of its options: a --help after it is not a request
# for help (engines alone used to print its usage here).
for group in engines migrate keys users tokens; do
  run "$group" -- --help
  expect_code 2 "$group -- --help is a usage error"
  expect_err "$group: unknown subcommand '--'" "$group -- --help names '--'"
done

run engines list --bogus
expect_code 2 "unknown option"
expect_err "--bogus" "the unknown option is named"

LOG_LEVEL=loud run engines list
expect_code 2 "a bad LOG_LEVEL"
expect_err "LOG_LEVEL" "a bad LOG_LEVEL is named"

DATABASE_URL="mysql://u:hunter2secret@h/db" run engines list
expect_code 2 "an unsupported DATABASE_URL scheme"
expect_none "hunter2secret" "the DATABASE_URL password never appears"

DATABASE_URL="postgresql://u:hunter2secret@127.0.0.1:1/db" run check
expect_none "hunter2secret" "check never prints the database password"
expect_code 1 "check fails without a reachable database"

finish
