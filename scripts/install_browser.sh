#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/widgets/browser/).
# Playwright for Python (from .venv) drives /usr/bin/chromium; Playwright's own browser download
# does not work on these machines, so the browser comes from apt. Idempotent: a no-op when present.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install_browser.sh: /usr/bin/chromium is missing and we are not root (no sudo)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
