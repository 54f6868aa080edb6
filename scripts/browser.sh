#!/usr/bin/env bash
# The browser the Playwright tests drive: Debian's Chromium at /usr/bin/chromium
# (`playwright install` downloads browser builds, which machines without
# general internet access cannot do; Debian's package needs only apt).
# Idempotent: does nothing when it is already installed. If it cannot be
# installed, CI=true fails here; elsewhere the browser tests skip, saying why.
# Also axe-core, the accessibility engine tests/web/test_browser_a11y.py
# injects into pages: the npm registry's tarball (`npm pack`, which checks its
# integrity), unpacked into .tools/axe-core-$AXE_VERSION/ (no CDN at test time).
set -uo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION="${AXE_VERSION:-4.14.1}"
AXE_DIR=".tools/axe-core-$AXE_VERSION"

ci() {
    case "${CI:-}" in
        1 | true | TRUE | True | yes) return 0 ;;
    esac
    return 1
}

vendor_axe() {
    [ -s "$AXE_DIR/axe.min.js" ] && return 0
    command -v npm >/dev/null 2>&1 || return 1
    local tmp
    tmp="$(mktemp -d)" || return 1
    echo "Fetching axe-core@$AXE_VERSION from the npm registry into $AXE_DIR ..."
    if (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null) &&
        tar -xzf "$tmp/axe-core-$AXE_VERSION.tgz" -C "$tmp" package/axe.min.js package/LICENSE; then
        mkdir -p "$AXE_DIR" && mv "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$AXE_DIR/"
    fi
    rm -rf "$tmp"
    [ -s "$AXE_DIR/axe.min.js" ]
}

if ! vendor_axe; then
    if ci; then
        echo "scripts/browser.sh: could not fetch axe-core@$AXE_VERSION, and CI=true needs it" >&2
        exit 1
    fi
    echo "scripts/browser.sh: could not fetch axe-core; the accessibility tests will be skipped" >&2
fi

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
if ci; then
    echo "scripts/browser.sh: could not install /usr/bin/chromium, and CI=true needs it" >&2
    exit 1
fi
echo "scripts/browser.sh: could not install /usr/bin/chromium; browser tests will be skipped" >&2
exit 0
