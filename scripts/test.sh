#!/usr/bin/env bash
# Runs the whole test suite: lint, types, generated-code freshness and pytest against real
# redis-server, PostgreSQL and moto's SQS server. Installs what it needs; starts the services.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_venv dev
ensure_services
ensure_node_bullmq
ensure_chromium
cd "$REPO"
echo "== ruff"
PYDIRS=(qgen tests bench examples scripts)
"$VENV/bin/ruff" check "${PYDIRS[@]}" && "$VENV/bin/ruff" format --check "${PYDIRS[@]}"
echo "== mypy --strict qgen"; "$VENV/bin/mypy"
echo "== lint-imports"; PYTHONPATH=examples/shop:bench/app "$VENV/bin/lint-imports" --no-cache
echo "== qgen check examples/shop"; (cd examples/shop && "$VENV/bin/qgen" check)
echo "== pytest"
set +e
"$VENV/bin/pytest" -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$rc"
