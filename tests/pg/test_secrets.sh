#!/usr/bin/env bash
# The password in a PostgreSQL DATABASE_URL never appears in a log line, an error message
# or `wfreg check`: with the right password, a wrong one, an unreachable server and a
# URL libpq cannot read. Every wait is bounded by connect_timeout.
. "$(dirname "$0")/../cli/lib.sh"
is_pg || { echo "PostgreSQL only (WF_TEST_BACKEND=pg)"; exit 1; }
export SECRET_KEY="secrets-test-secret"
REAL_PW=$(printf '%s' "$DATABASE_URL" | sed -n 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|p')
[ -n "$REAL_PW" ] || { echo "no password in the test URL"; exit 1; }
WRONG="Wr0ngPassw0rd-SECMARK"
WRONG_URL=$(printf '%s' "$DATABASE_URL" | sed "s|:$REAL_PW@|:$WRONG@|")

run migrate up
expect_code 0 "migrate up"
LOG_LEVEL=debug run check
expect_code 0 "check with the right password"
expect_out "reachable (pg)" "check reaches PostgreSQL"
expect_out "postgresql://wfreg:***@/" "check shows the URL masked"
expect_none "$REAL_PW" "check never shows the password"
LOG_LEVEL=debug LOG_FORMAT=json run engines list
expect_none "$REAL_PW" "a debug log never shows the password"

# A wrong password: every command fails with the reason, never the password.
for cmd in "check" "engines list" "migrate status" "migrate up" "keys check" "users list"; do
  DATABASE_URL="$WRONG_URL" LOG_LEVEL=debug run $cmd
  if [ "$CODE" -ne 0 ]; then ok; else bad "$cmd with a wrong password fails"; fi
  expect_none "$WRONG" "$cmd never shows the wrong password"
  expect_none "$REAL_PW" "$cmd never shows the real password"
  if printf '%s\n%s' "$OUT" "$ERR" | grep -q "password authentication failed"; then ok; else bad "$cmd says why"; fi
done
DATABASE_URL="$WRONG_URL" run check
expect_code 1 "check fails"
expect_out "database     FAIL" "check names the failing check"
expect_out "wfreg:***@" "check shows the masked URL"

# An unreachable server: a refused port at once, a black-holed address within
# connect_timeout; never the password.
for url in "postgresql://wfreg:$WRONG@127.0.0.1:1/wfreg" \
  "postgresql://wfreg:$WRONG@192.0.2.1:5432/wfreg?connect_timeout=2&sslmode=disable" \
  "host=127.0.0.1 port=1 user=wfreg password=$WRONG dbname=wfreg"; do
  start=$(date +%s)
  DATABASE_URL="$url" LOG_LEVEL=debug run check
  took=$(($(date +%s) - start))
  expect_code 1 "check against an unreachable server ($url)"
  expect_none "$WRONG" "the password is not shown ($url)"
  expect_out "cannot connect to" "it says it cannot connect"
  if [ "$took" -le 6 ]; then ok; else bad "the wait is bounded (took ${took}s)"; fi
  DATABASE_URL="$url" run engines list
  expect_code 3 "engines list: a database problem"
  expect_none "$WRONG" "engines list does not show the password"
done

# URLs libpq reads otherwise than one would think, or not at all.
for url in "postgresql://wfreg:pa/ss-$WRONG@127.0.0.1:1/wfreg" \
  "postgresql://wfreg:pa@ss-$WRONG@127.0.0.1:1/wfreg" \
  "postgresql://wfreg:$WRONG@[::1/wfreg" \
  "host=127.0.0.1 password='$WRONG"; do
  DATABASE_URL="$url" LOG_LEVEL=debug run engines list
  if [ "$CODE" -ne 0 ]; then ok; else bad "engines list with '$url' fails"; fi
  expect_none "$WRONG" "no piece of the password is shown ($url)"
  expect_none "ss-Wr0ng" "no piece of the password is shown ($url)"
done

# The server refuses to start without its database, and says so without the password.
DATABASE_URL="$WRONG_URL" LOG_LEVEL=debug run serve --listen 127.0.0.1:0
if [ "$CODE" -ne 0 ]; then ok; else bad "serve without its database exits"; fi
expect_none "$WRONG" "serve's log never shows the password"

finish
