"""mypy --strict accepts correct use of a generated client and rejects wrong payloads, missing
fields and unknown queue names. One mypy run over the generated package and both files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.golden.harness import build_case

OK = """
import datetime as dt

from shop.generated import models
from shop.generated.client import AsyncQueueClient, QueueClient


def use_sync(client: QueueClient) -> str:
    job = client.payments.add(models.PaymentRequest(order_id="o1", amount=500))
    result: models.PaymentsOutput = job.result(timeout=30)
    client.add("payments", {"order_id": "o1", "amount": 500}, job_id="o1", delay=dt.timedelta(1))
    client.emails.add({"to": "a@b.c", "name": "Ann"}, priority=3, attempts=2)
    nothing: None = client.add("emails", models.EmailsInput(to="x", name="y")).result()
    slug: str = client.publish_article.add(models.Article(slug="s", title="t")).result()
    handles = client.publish_article.add_many([models.PublishArticleInput(slug="a", title="b")])
    print(nothing, slug, handles, client.payments.get("o1").id)
    return result.transaction_id


async def use_async(client: AsyncQueueClient) -> str:
    job = await client.add("publish-article", models.Article(slug="s", title="t"))
    text: str = await job.result()
    done = await client.payments.add(
        models.PaymentsInput(order_id="o", amount=1), backoff={"type": "fixed", "delay": 10}
    )
    return text + (await done.result()).transaction_id
"""

BAD = """
from shop.generated import models
from shop.generated.client import QueueClient


def misuse(client: QueueClient) -> None:
    client.payments.add(models.Article(slug="s", title="t"))  # E: arg-type
    client.add("payments", 42)  # E: call-overload
    models.PaymentRequest(order_id="o1")  # E: call-arg
    client.add("no-such-queue", {})  # E: call-overload
    client.no_such_queue  # E: attr-defined
    x: int = client.payments.add({}).result()  # E: assignment
    client.payments.add({}, delay="soon")  # E: arg-type
"""


def test_mypy_strict_on_generated_client(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    (project / "use_ok.py").write_text(OK, encoding="utf-8")
    (project / "use_bad.py").write_text(BAD, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "shop/generated",
            "use_ok.py",
            "use_bad.py",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    errors: dict[tuple[str, int], set[str]] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"(.+?):(\d+): error: .*\[([a-z-]+)\]$", line)
        if m:
            errors.setdefault((m[1], int(m[2])), set()).add(m[3])
    expected: dict[tuple[str, int], set[str]] = {}
    for number, text in enumerate(BAD.splitlines(), start=1):
        if "# E: " in text:
            expected[("use_bad.py", number)] = {text.split("# E: ")[1].strip()}
    assert errors == expected, proc.stdout
