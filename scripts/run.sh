#!/usr/bin/env bash
# Set up and start the app on http://localhost:8501 with the embedded SQLite database.
# First start: migrates the database and loads the (clearly labelled) demo data.
# Environment: ROADMAP_DATABASE_URL (database), ROADMAP_PORT (default 8501).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/roadmap db upgrade
.venv/bin/roadmap demo --if-empty
# The development sign-in (pick a role) only works on a loopback address; see README "Sign-in".
export ROADMAP_DEV_LOGIN="${ROADMAP_DEV_LOGIN:-1}"
# streamlit_app/server.py serves app.py as an st.App with the sign-in routes, as scripts/serve.sh does.
exec .venv/bin/streamlit run streamlit_app/server.py \
  --server.address 127.0.0.1 --server.port "${ROADMAP_PORT:-8501}"
