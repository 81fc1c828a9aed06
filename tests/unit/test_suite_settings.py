"""The suite reaches its servers only through the settings in tests/support (``QGEN_TEST_PG``,
``QGEN_TEST_REDIS``, moto's server): no test names a database or Redis db of its own, so the
suite can be pointed elsewhere and never touches what it was not given."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# A URL of the local test servers: redis or PostgreSQL on 127.0.0.1/localhost, default ports,
# without a password (URLs with one are parser tests: the test servers take no password).
SERVER_URL = re.compile(
    r"(?:rediss?|postgres(?:ql)?)://(?:[^\s\"'/:@]*@)?(?:127\.0\.0\.1|localhost)"
    r"(?::(?:5432|6379))?(?=[/?\s\"']|$)"
)
ALLOWED = ("support/", "golden/cases/")


def test_no_test_hard_codes_a_server_url() -> None:
    found = []
    for path in sorted(TESTS.rglob("*")):
        rel = path.relative_to(TESTS).as_posix()
        if path.suffix not in (".py", ".mjs") or rel.startswith(ALLOWED) or "node_modules" in rel:
            continue
        if path == Path(__file__).resolve():  # its own samples below
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SERVER_URL.search(line):
                found.append(f"tests/{rel}:{number}: {line.strip()}")
    assert not found, "use tests/support settings instead:\n" + "\n".join(found)


def test_the_pattern_finds_what_it_guards_against() -> None:
    assert SERVER_URL.search('url = "postgresql://postgres@127.0.0.1:5432/test"')
    assert SERVER_URL.search('"redis://127.0.0.1:6379/0"')
    assert SERVER_URL.search("redis://localhost/1")
    assert not SERVER_URL.search("redis://127.0.0.1:1/0")  # a port nothing listens on
    assert not SERVER_URL.search("redis://cache.example:6379/0")
    assert not SERVER_URL.search("redis://:pw@127.0.0.1:6379/0")  # a parser test's URL
