#!/usr/bin/env bash
# The browser the Playwright tests drive: Debian's Chromium at /usr/bin/chromium
# (`playwright install` downloads browser builds, which machines without
# general internet access cannot do; Debian's package needs only apt).
# Idempotent: does nothing when it is already installed. If it cannot be
# installed, CI=true fails here; elsewhere the browser tests skip, saying why.
set -uo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

install() {
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        command -v sudo >/dev/null 2>&1 || return 1
        sudo="sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || return 1
    echo "Installing Debian's chromium for the browser tests (about a minute) ..."
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

if install && [ -x /usr/bin/chromium ]; then
    /usr/bin/chromium --version 2>/dev/null || true
    exit 0
fi
case "${CI:-}" in
    1 | true | TRUE | True | yes)
        echo "scripts/browser.sh: could not install /usr/bin/chromium, and CI=true needs it" >&2
        exit 1
        ;;
esac
echo "scripts/browser.sh: could not install /usr/bin/chromium; browser tests will be skipped" >&2
exit 0
