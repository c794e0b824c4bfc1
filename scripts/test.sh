#!/usr/bin/env bash
# Set up, then run the whole test suite: lint, then pytest (every test, slow ones included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/install_browser.sh   # Debian Chromium for tests/widgets/browser (apt-get when missing)
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache   # the layers of ../shared/DESIGN.md (pyproject.toml [tool.importlinter])
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
