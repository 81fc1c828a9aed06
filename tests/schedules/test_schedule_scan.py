"""wire_schedule read statically: every diagnostic (QG501-QG507) with its exact text, and a
valid schedule's way into the project spec, manifest.json and the scan cache."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from qgen.codegen.scan import ScanResult, scan_project

FUNCS = """
from pydantic import BaseModel
from qgen import sessionless_func

class Digest(BaseModel):
    kind: str
    limit: int = 10

@sessionless_func
async def digest(services, data: Digest) -> None: ...

@sessionless_func
def tick(services, data: int) -> None: ...
"""

QUEUES = """
import datetime
from datetime import timedelta
import qgen
from qgen import wire_queue_worker, wire_schedule
from shop.jobs import digest, tick

wire_queue_worker(queue="digest", func=digest)
wire_queue_worker(queue="ticks", func=tick)
CRON = "0 3 * * *"

wire_schedule(name="nightly", queue="digest", cron="0 3 * * *", tz="Europe/Berlin",
              data={"kind": "daily"})
wire_schedule(name="often", queue="ticks", every=timedelta(seconds=30), data=1)
qgen.wire_schedule(name="ms", queue="ticks", every=500, data=2, catch_up=False)
wire_schedule(name="bad cron", queue="digest", cron="61 * * * *", data={"kind": "x"})
wire_schedule(name="sixfields", queue="digest", cron="0 0 3 * * *", data={"kind": "x"})
wire_schedule(name="zone", queue="digest", cron="@daily", tz="Mars/Olympus", data={"kind": "x"})
wire_schedule(name="unwired", queue="nowhere", every=1000, data={})
wire_schedule(name="badata", queue="digest", every=1000, data={"kind": 5, "limit": "x"})
wire_schedule(name="nodata", queue="ticks", every=1000)
wire_schedule(name="nightly", queue="digest", cron="0 4 * * *", data={"kind": "again"})
wire_schedule(name="notlit", queue="digest", cron=CRON, data={"kind": "x"})
wire_schedule(name="both", queue="ticks", cron="@hourly", every=1000, data=1)
wire_schedule(name="neither", queue="ticks", data=1)
wire_schedule(name="tiny", queue="ticks", every=datetime.timedelta(milliseconds=5), data=1)
wire_schedule(name="extra", queue="ticks", every=1000, data=1, when="now")
wire_schedule("positional", queue="ticks", every=1000, data=1)
wire_schedule(queue="ticks", every=1000, data=1)
"""


def _scan(tmp_path: Path, files: dict[str, str]) -> ScanResult:
    for rel, source in {"shop/__init__.py": "", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), "utf-8")
    return scan_project(
        tmp_path, ["shop"], services=None, out_package="shop.generated", cache_dir=tmp_path / "c"
    )


def test_every_schedule_diagnostic(tmp_path: Path) -> None:
    result = _scan(tmp_path, {"shop/jobs.py": FUNCS, "shop/queues.py": QUEUES})
    q = "shop/queues.py"
    assert [d.format() for d in result.diagnostics] == [
        f"{q}:15:20: QG501 schedule name must be a string literal matching"
        " [A-Za-z0-9][A-Za-z0-9_.-]{0,99}, not 'bad cron'",
        f"{q}:15:53: QG502 invalid cron expression '61 * * * *'",
        f"{q}:16:54: QG502 invalid cron expression '0 0 3 * * *': qgen takes five fields"
        " (minute hour day-of-month month day-of-week) or"
        " @hourly/@daily/@weekly/@monthly/@yearly",
        f"{q}:17:62: QG503 unknown time zone 'Mars/Olympus'",
        f"{q}:18:37: QG504 schedule queue='nowhere' is not a queue wired with wire_queue_worker",
        f"{q}:19:63: QG505 schedule data does not match the input of queue 'digest' (Digest):"
        " kind: 5 is not of type 'string'",
        f"{q}:19:63: QG505 schedule data does not match the input of queue 'digest' (Digest):"
        " limit: 'x' is not of type 'integer'",
        f"{q}:20:1: QG505 schedule data does not match the input of queue 'ticks' (int):"
        " data: None is not of type 'integer'",
        f"{q}:21:15: QG506 schedule 'nightly' is already wired at shop/queues.py:11",
        f"{q}:22:51: QG507 wire_schedule cron=: CRON is not a literal (the build must read it)",
        f"{q}:23:1: QG502 wire_schedule needs exactly one of cron= and every=",
        f"{q}:24:1: QG502 wire_schedule needs exactly one of cron= and every=",
        f"{q}:25:49: QG502 every must be whole milliseconds from 100 to 31622400000, not 5",
        f"{q}:26:64: QG507 unknown argument when=",
        f"{q}:27:1: QG507 wire_schedule takes keyword arguments only",
        f"{q}:28:1: QG501 schedule name must be a string literal matching"
        " [A-Za-z0-9][A-Za-z0-9_.-]{0,99}, not None",
    ]
    schedules = {s.name: s for s in result.project.schedules}
    assert sorted(schedules) == ["ms", "nightly", "often"]
    nightly = schedules["nightly"]
    assert (nightly.queue, nightly.cron, nightly.tz, nightly.data) == (
        "digest",
        "0 3 * * *",
        "Europe/Berlin",
        {"kind": "daily"},
    )
    assert (nightly.location.path, nightly.location.line) == (q, 11)
    assert schedules["often"].every_ms == 30_000 and schedules["often"].cron is None
    assert schedules["ms"].every_ms == 500 and schedules["ms"].catch_up is False
    # the whole-scan cache gives the same schedules back
    again = scan_project(
        tmp_path, ["shop"], services=None, out_package="shop.generated", cache_dir=tmp_path / "c"
    )
    assert again.parsed == 0
    assert again.project.schedules == result.project.schedules


def test_schedule_in_its_own_module_is_a_wiring_module(tmp_path: Path) -> None:
    result = _scan(
        tmp_path,
        {
            "shop/jobs.py": FUNCS,
            "shop/queues.py": "from qgen import wire_queue_worker\nfrom shop.jobs import tick\n"
            'wire_queue_worker(queue="ticks", func=tick)\n',
            "shop/schedules.py": "from qgen import wire_schedule\n"
            'wire_schedule(name="s", queue="ticks", every=1000, data=3)\n',
        },
    )
    assert result.diagnostics == []
    assert result.project.wiring_modules == ("shop.queues", "shop.schedules")


def test_manifest_lists_schedules(tmp_path: Path) -> None:
    from qgen.cli import main

    (tmp_path / "pyproject.toml").write_text(
        '[tool.qgen]\nsource = ["shop"]\nout = "shop/generated"\n', "utf-8"
    )
    files = {
        "shop/jobs.py": FUNCS,
        "shop/queues.py": "from qgen import wire_queue_worker, wire_schedule\n"
        "from shop.jobs import digest\n"
        'wire_queue_worker(queue="digest", func=digest)\n'
        'wire_schedule(name="nightly", queue="digest", cron="0 3 * * *", tz="Europe/Berlin",'
        ' data={"kind": "daily"})\n',
    }
    for rel, source in {"shop/__init__.py": "", **files}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(source, "utf-8")
    assert main(["build", "--project", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "shop/generated/manifest.json").read_text("utf-8"))
    assert manifest["schedules"] == {
        "nightly": {
            "queue": "digest",
            "cron": "0 3 * * *",
            "every_ms": None,
            "tz": "Europe/Berlin",
            "data": {"kind": "daily"},
            "catch_up": True,
        }
    }
    from qgen.runtime.manifest import load_manifest

    loaded = load_manifest(tmp_path / "shop/generated/manifest.json")
    assert loaded.schedules["nightly"].cron == "0 3 * * *"
