#!/usr/bin/env bash
# Set up, then run the main job on the embedded sandbox (or on Stripe if STRIPE_API_KEY is set).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh notebooks
exec .venv/bin/reportkit demo "$@"
