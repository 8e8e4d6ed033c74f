#!/usr/bin/env bash
# run.sh: what `make run` does after building. Until `wfreg serve` exists (the next
# milestone), it prepares the default SQLite database and walks through the command line
# on it, so that a new user sees wfreg work end to end.
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

if [ -z "${SECRET_KEY:-}" ] && [ -z "${WFREG_FERNET_KEYS:-}" ]; then
  if [ ! -s var/fernet.key ]; then
    (umask 077 && "$WFREG" keys generate > var/fernet.key)
    echo "Created an encryption key in var/fernet.key (keep it: stored API keys need it)."
  fi
  WFREG_FERNET_KEYS=$(cat var/fernet.key)
  export WFREG_FERNET_KEYS
fi

say() { printf '\n$ %s\n' "$*"; }

say wfreg migrate up
"$WFREG" migrate up
say wfreg migrate verify
"$WFREG" migrate verify

if ! "$WFREG" engines show demo-n8n >/dev/null 2>&1; then
  say "printf 'demo-key' | wfreg engines add demo-n8n --type n8n --url http://127.0.0.1:5678 --api-key-stdin"
  printf 'demo-key' | "$WFREG" engines add demo-n8n --type n8n --url http://127.0.0.1:5678 --api-key-stdin
fi
say wfreg engines list
"$WFREG" engines list
say wfreg engines show demo-n8n
"$WFREG" engines show demo-n8n
say wfreg check
"$WFREG" check

cat <<TXT

wfreg is ready on ${DATABASE_URL}.
The HTTP server (wfreg serve) and its login are not built yet; until then, use the
command line with the same environment, for example:
  export DATABASE_URL=${DATABASE_URL}
  export WFREG_FERNET_KEYS=\$(cat var/fernet.key)   # or your own SECRET_KEY
  build/wfreg engines --help
TXT
