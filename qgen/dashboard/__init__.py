"""The qgen dashboard: a web page over a built project's queues (``pip install
'qgen[dashboard]'``). Workers and clients never import it; importing this package alone needs
none of the extra's libraries (the CLI reads its options from here), ``create_app`` does.

    from qgen.dashboard import create_app
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qgen.dashboard.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from qgen.dashboard.app import create_app

        return create_app
    raise AttributeError(f"module 'qgen.dashboard' has no attribute {name!r}")
