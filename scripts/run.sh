#!/usr/bin/env bash
# run.sh: what `make run` does after building: prepares the default SQLite database,
# makes the first admin on an empty database, and starts `wfreg serve`.
#
# Keys: wfreg never makes an encryption key by itself. If neither SECRET_KEY nor
# WFREG_FERNET_KEYS is set, this script (not wfreg) creates one in var/fernet.key,
# readable by you alone, and uses it through WFREG_FERNET_KEYS. Keep that file: the
# stored API keys cannot be read without it.
set -euo pipefail
WFREG=${1:-build/wfreg}
cd "$(dirname "$0")/.."
mkdir -p var
export DATABASE_URL=${DATABASE_URL:-sqlite:./var/wfreg.db}
export WFREG_LISTEN=${WFREG_LISTEN:-127.0.0.1:8080}

if [ -z "${SECRET_KEY:-}" ] && [ -z "${WFREG_FERNET_KEYS:-}" ]; then
  if [ ! -s var/fernet.key ]; then
    (umask 077 && "$WFREG" keys generate > var/fernet.key)
    echo "Created an encryption key in var/fernet.key (keep it: stored API keys need it)."
  fi
  WFREG_FERNET_KEYS=$(cat var/fernet.key)
  export WFREG_FERNET_KEYS
fi

"$WFREG" migrate up

# The first admin, on an empty database only: a random password, shown once.
if [ "$("$WFREG" users list --json)" = "[]" ]; then
  password=$(openssl rand -base64 18 | tr -d '/+=' | cut -c1-20)
  printf '%s' "$password" | "$WFREG" users add admin --role admin --password-stdin >/dev/null
  cat <<TXT

  First run: created the user 'admin' with the password

      $password

  (shown once; change it with: build/wfreg users passwd admin)
TXT
fi

cat <<TXT

  wfreg is starting on http://${WFREG_LISTEN}  (database ${DATABASE_URL})
  Admin page: open http://${WFREG_LISTEN}/ in a browser and log in as admin.
  The API:  curl -s -X POST http://${WFREG_LISTEN}/api/v1/auth/login \\
              -H 'Content-Type: application/json' \\
              -d '{"username":"admin","password":"..."}'
  Then:     curl -s -H "Authorization: Bearer TOKEN" http://${WFREG_LISTEN}/api/v1/engines
  Stop with Ctrl-C.

TXT
exec "$WFREG" serve
