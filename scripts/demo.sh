#!/usr/bin/env bash
# Installs qgen into .venv, builds the shipped example with `qgen build`, and runs the demo on
# the embedded SQLite backend (no server needed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_venv codegen
cd "$REPO/examples/shop"
"$VENV/bin/qgen" build
exec "$PY" -m shop.demo "$@"
