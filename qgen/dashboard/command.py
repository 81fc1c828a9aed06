"""``qgen dashboard``: serve the dashboard of the project found from the current directory."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from qgen import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8077
TOKEN_ENV = "QGEN_DASHBOARD_TOKEN"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="queue URL (default: $QGEN_URL, else the project's own file)")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument(
        "--token",
        help=f"require this token (a login form, then a session cookie); default ${TOKEN_ENV}. "
        "Needed to bind anything but a loopback address",
    )
    p.add_argument("--read-only", action="store_true", help="show no actions, accept none")


def run(args: argparse.Namespace, manifest: Path, err: TextIO) -> int:
    from qgen.dashboard.security import check_token, is_loopback

    token = check_token(args.token or os.environ.get(TOKEN_ENV) or None)
    if token is None and not is_loopback(args.host):
        raise ConfigError(
            f"refusing to serve the dashboard on {args.host} without a token: pass --token or "
            f"set ${TOKEN_ENV} (or bind {DEFAULT_HOST})"
        )
    try:
        import uvicorn

        from qgen.dashboard import create_app
    except ImportError as exc:
        raise ConfigError(
            f"the dashboard needs the dashboard extra: pip install 'qgen[dashboard]' ({exc})"
        ) from None
    app = create_app(manifest=manifest, url=args.url, token=token, read_only=args.read_only)
    mode = "read-only" if args.read_only else "read-write"
    auth = "token required" if token else "loopback only, no token"
    print(f"qgen dashboard on http://{args.host}:{args.port}/ ({mode}, {auth})", file=err)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False)
    return 0
