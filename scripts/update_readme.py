"""Regenerates the capability table in README.md from qgen/runtime/capabilities.py.

.venv/bin/python scripts/update_readme.py          # rewrite README.md
.venv/bin/python scripts/update_readme.py --check  # exit 1 when README.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from qgen.runtime.capabilities import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- capabilities:start -->", "<!-- capabilities:end -->"


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{markdown_table()}{END}{tail}"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in sys.argv:
        if new != text:
            print("README.md capability table is stale: run scripts/update_readme.py")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
