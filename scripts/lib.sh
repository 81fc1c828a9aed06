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

# ensure_node_bullmq: Node.js (installed from Debian's packages when missing and we may) and
# Node BullMQ for the interop tests, installed with `npm ci` from the committed lock file
# whenever the lock file changes. Fails with a clear message when Node cannot be had.
ensure_node_bullmq() {
    local dir="$REPO/tests/interop/node"
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        install_node
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "error: Node.js and npm are required (the Node BullMQ interop tests need them)." >&2
        echo "       Install them (Debian: apt-get install nodejs npm) and run again." >&2
        return 1
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 18 ]; then
        echo "error: Node.js >= 18 is required, found $(node --version)" >&2
        return 1
    fi
    local stamp="$dir/node_modules/.qgen-lock-sha256" want
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing Node BullMQ (npm ci in tests/interop/node)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" >"$stamp"
    fi
}

# install_node: Debian's nodejs and npm packages, when apt-get is here and we are root.
install_node() {
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 0
    fi
    echo "installing Node.js and npm from Debian's packages"
    if ! apt-get install -y -q --no-install-recommends nodejs npm >/dev/null; then
        apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
    fi || echo "warning: apt-get could not install nodejs and npm" >&2
}

# ensure_chromium: Debian's chromium for the dashboard's browser tests (Playwright drives it
# through executable_path; its own browser download is not reachable here).
# Each command on its own line: under `set -e` a failing `apt-get update` stops the run.
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    echo "installing chromium (Debian package) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    if [ ! -x /usr/bin/chromium ]; then
        echo "error: chromium is required (the dashboard's browser tests need it)" >&2
        return 1
    fi
}
