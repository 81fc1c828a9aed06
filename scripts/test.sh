#!/usr/bin/env bash
# Runs the whole test suite: lint, types, generated-code freshness and pytest against real
# redis-server, PostgreSQL, moto's SQS server and Node BullMQ. Installs what it needs; starts
# the services. Every step is its own command, so under `set -e` any failing step fails the run
# (bash ignores a failure inside `a && b` unless it is the last command of the list).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_venv dev
ensure_services
ensure_node_bullmq
ensure_chromium
cd "$REPO"
PYDIRS=(qgen tests bench examples scripts)
echo "== ruff check"
"$VENV/bin/ruff" check "${PYDIRS[@]}"
echo "== ruff format --check"
"$VENV/bin/ruff" format --check "${PYDIRS[@]}"
echo "== mypy --strict qgen"
"$VENV/bin/mypy"
echo "== lint-imports"
PYTHONPATH=examples/shop:bench/app "$VENV/bin/lint-imports" --no-cache
echo "== qgen check examples/shop, then mypy --strict on it (its code and the generated client)"
(cd examples/shop && "$VENV/bin/qgen" check)
(cd examples/shop && "$VENV/bin/mypy" --strict shop)
echo "== pytest"
# QGEN_REQUIRE_ALL: a missing dependency (node, a backend) fails its tests instead of skipping
# them; tests/conftest.py also fails a run in which no test passed.
export QGEN_REQUIRE_ALL=1
status=0
"$VENV/bin/pytest" -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
