#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) for tests and local development.
#   scripts/azurite.sh install   install it into .tools/azurite if missing (npm registry)
#   scripts/azurite.sh           install if missing, then run it in the foreground
# Ports come from AZURITE_BLOB_PORT / AZURITE_QUEUE_PORT / AZURITE_TABLE_PORT
# (default 10000-10002, what UseDevelopmentStorage=true expects). The flags are
# the ones known to work with the SDK versions we pin: --skipApiVersionCheck
# because azure-storage-queue sends an API version newer than Azurite knows.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=.tools/azurite
BIN="$PREFIX/node_modules/.bin/azurite"
VERSION="${AZURITE_VERSION:-3.35.0}"

install() {
  if [ -x "$BIN" ]; then
    return
  fi
  command -v npm >/dev/null || { echo "azurite.sh: npm is not installed (Node 20 needed)" >&2; exit 1; }
  mkdir -p "$PREFIX"
  # Two test runs starting at once must not install into one folder together.
  exec 9>"$PREFIX/.install.lock"
  flock 9
  if [ ! -x "$BIN" ]; then
    echo "azurite.sh: installing azurite@$VERSION into $PREFIX" >&2
    npm install --silent --no-audit --no-fund --no-save --prefix "$PREFIX" "azurite@$VERSION" >&2
  fi
  flock -u 9
  exec 9>&-
}

install
if [ "${1:-}" = "install" ]; then
  exit 0
fi
exec "$BIN" --silent --inMemoryPersistence --skipApiVersionCheck --disableTelemetry \
  --blobHost 127.0.0.1 --blobPort "${AZURITE_BLOB_PORT:-10000}" \
  --queueHost 127.0.0.1 --queuePort "${AZURITE_QUEUE_PORT:-10001}" \
  --tableHost 127.0.0.1 --tablePort "${AZURITE_TABLE_PORT:-10002}"
