#!/usr/bin/env bash
# Set up and run the whole test suite (unit, UI with AppTest, browser tests with the system Chromium).
# PostgreSQL tests run too when ROADMAP_TEST_POSTGRES_URL is set (.ci/run sets it when a server answers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# axe-core for the accessibility checks (skipped with a reason when npm is not installed).
if command -v npm >/dev/null 2>&1 && [ ! -f node_modules/axe-core/axe.min.js ]; then
  npm ci --no-audit --no-fund --silent
fi
exec .venv/bin/python -m pytest -n 2 -p no:cacheprovider "$@"
