"""`qgen setup --url URL` provisions any backend through the registry; `qgen migrate` and
`qgen sqs create-queues` are its aliases for one backend each."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from qgen.cli import main
from tests.golden.harness import build_case, copy_case, run_cli
from tests.support import postgres as pg_support
from tests.support import sqs as sqs_support


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def _tables(url: str) -> list[str]:
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(pg_support.SERVER) as conn:
        rows = conn.execute(
            sql.SQL("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1"),
            (schema,),
        ).fetchall()
    return [r[0] for r in rows]


def test_setup_postgres_applies_migrations_once(tmp_path: Path) -> None:
    with pg_support.backend_url(tmp_path) as url:
        code, out, err = _run("setup", "--url", url)
        assert code == 0, err
        assert out.startswith("qgen: applied migrations 1")
        assert _tables(url) == ["job", "migrations", "queue", "worker_beat"]
        code, out, _ = _run("setup", "--url", url)
        assert (code, out) == (0, "qgen: database schema is up to date\n")


def test_setup_sqs_creates_the_built_projects_queues(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    with sqs_support.backend_url(tmp_path) as url:
        code, out, err = run_cli(project, "setup", "--url", url)
        assert code == 0, err
        head, *urls = out.splitlines()
        assert head.startswith("qgen: ") and "SQS queue(s) ready" in head
        assert any(u.endswith("payments") for u in urls)
        assert any(u.endswith("publish-article") for u in urls)
        client = sqs_support.server().client()
        try:
            listed = client.list_queues(QueueNamePrefix=url.split("prefix=")[1].split("&")[0])
        finally:
            client.close()
        assert sorted(listed["QueueUrls"]) == sorted(urls)


def test_setup_sqs_without_a_build_says_what_to_do(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    code, _, err = run_cli(project, "setup", "--url", "sqs://us-east-1")
    assert code == 2 and "run `qgen build`" in err and "Traceback" not in err


def test_setup_sqlite_has_nothing_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    code, out, err = _run("setup", "--url", url)
    assert code == 0, err
    assert out.startswith("qgen: nothing to set up")
    assert not (tmp_path / "jobs.db").exists()


@pytest.mark.parametrize(
    ("command", "url", "wanted"),
    [
        (["migrate"], "sqlite:///jobs.db", "postgres"),
        (["sqs", "create-queues"], "postgresql://u:hunter2@h/db", "sqs"),
    ],
)
def test_aliases_refuse_other_backends(command: list[str], url: str, wanted: str) -> None:
    code, out, err = _run(*command, "--url", url)
    assert code == 2 and out == ""
    assert f"is for {wanted} URLs" in err and "qgen setup" in err
    assert "hunter2" not in err


def test_setup_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QGEN_URL", raising=False)
    code, _, err = _run("setup")
    assert code == 2 and "no URL" in err
