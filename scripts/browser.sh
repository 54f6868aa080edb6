#!/usr/bin/env bash
# The browser the Playwright tests drive: Debian's Chromium at /usr/bin/chromium
# (`playwright install` cannot download browsers here; see RECIPES.md).
# Idempotent: does nothing when it is already installed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/browser.sh: no /usr/bin/chromium and no apt-get to install it" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
echo "Installing Debian's chromium for the browser tests (about a minute) ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
