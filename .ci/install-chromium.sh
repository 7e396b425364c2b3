#!/usr/bin/env bash
# Install headless Chromium (Debian package `chromium`) for the HTML report's browser test
# (tests/test_html_browser.py). Idempotent and quiet: does nothing when chromium is already
# on PATH; needs root (or sudo) and apt-get. The test skips, with a reason, where it is missing.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "install-chromium: $(chromium --version 2>/dev/null | head -n1) already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get here; install Chromium by hand or the browser test will skip" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium >/dev/null
echo "install-chromium: $(chromium --version 2>/dev/null | head -n1) installed"
