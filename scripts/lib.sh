# Shared by scripts/demo.sh, scripts/test.sh and .ci/run. Source it; do not run it.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
PY="$VENV/bin/python"

# ensure_venv EXTRAS: a virtualenv in .venv with qgen installed editable with those extras.
ensure_venv() {
    local extras="$1"
    if [ ! -x "$PY" ]; then
        python3 -m venv "$VENV"
        "$PY" -m pip install -q --upgrade pip
    fi
    local stamp="$VENV/.qgen-installed-$extras"
    if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ]; then
        "$PY" -m pip install -q -e "$REPO[$extras]"
        touch "$stamp"
    fi
}

# ensure_services: start redis-server and PostgreSQL on 127.0.0.1 when they are not up.
ensure_services() {
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        echo "starting redis-server on 127.0.0.1:6379"
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        echo "starting PostgreSQL on 127.0.0.1:5432"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
    fi
    local i
    for i in $(seq 1 60); do
        if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
            return 0
        fi
        sleep 0.5
    done
    echo "redis-server or PostgreSQL did not come up" >&2
    return 1
}

# ensure_node_bullmq: Node BullMQ for the interop tests, pinned in tests/interop/node.
ensure_node_bullmq() {
    local dir="$REPO/tests/interop/node"
    if command -v npm >/dev/null 2>&1 && [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules/bullmq" ]; then
        (cd "$dir" && npm install --no-audit --no-fund --silent)
    fi
}

# ensure_chromium: Debian's chromium for the dashboard's browser tests (Playwright drives it
# through executable_path; its own browser download is not reachable here).
ensure_chromium() {
    if [ ! -x /usr/bin/chromium ]; then
        echo "installing chromium (Debian package) for the browser tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
}
