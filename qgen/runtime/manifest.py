"""Reading the generated ``manifest.json``: what the worker and tools need of the build.

Format (``"format": 1``), written by ``qgen.codegen.render`` with sorted keys::

    {
      "format": 1,
      "qgen_version": "0.1.0",
      "out_package": "shop.generated",
      "project_root": "../..",          # from the out directory to the pyproject.toml folder
      "services": "shop.services:create_services" | null,
      "wiring_modules": ["shop.queues"],
      "queues": {
        "<name>": {
          "accessor": "payments",
          "function": "shop.functions.payment:process_payment",
          "is_async": true, "takes_interaction": true,
          "input_type": "PaymentRequest", "output_type": "PaymentResult" | "None",
          "input_schema": "schemas/payments.input.json",
          "output_schema": "schemas/payments.output.json" | null,
          "config": {...normalized keys...},
          "middleware": ["shop.middleware:audit"],
          "tags": [...], "docs": {...},
          "wiring_module": "shop.queues",
          "location": {"path": "shop/queues.py", "line": 5, "col": 0},
          "warnings": {"sqs": ["QG301 ..."], ...}
        }
      },
      "schedules": {                    # only when the project has schedules
        "<name>": {"queue": "digest", "cron": "0 3 * * *" | null, "every_ms": null | 60000,
                   "tz": "Europe/Berlin", "data": {...}, "catch_up": true}
      }
    }
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qgen.runtime.errors import ConfigError
from qgen.runtime.schedules import Schedule

MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ManifestQueue:
    name: str
    accessor: str
    function: str
    is_async: bool
    takes_interaction: bool
    input_type: str
    output_type: str
    config: Mapping[str, Any]
    middleware: tuple[str, ...]
    tags: tuple[str, ...]
    wiring_module: str
    has_result: bool


@dataclass(frozen=True, slots=True)
class Manifest:
    path: Path
    out_package: str
    project_root: Path
    services: str | None
    wiring_modules: tuple[str, ...]
    queues: Mapping[str, ManifestQueue]
    schedules: Mapping[str, Schedule] = field(default_factory=dict)

    @property
    def default_url(self) -> str:
        """The project's embedded queue file, used when no URL is given."""
        return f"sqlite:///{self.project_root / '.qgen' / 'jobs.db'}"


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path).resolve()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read qgen manifest {path}: {exc}; run `qgen build`") from exc
    if raw.get("format") != MANIFEST_FORMAT:
        raise ConfigError(
            f"{path} has manifest format {raw.get('format')!r}, this qgen reads "
            f"{MANIFEST_FORMAT}; run `qgen build` again"
        )
    queues = {
        name: ManifestQueue(
            name=name,
            accessor=q["accessor"],
            function=q["function"],
            is_async=bool(q["is_async"]),
            takes_interaction=bool(q["takes_interaction"]),
            input_type=q["input_type"],
            output_type=q["output_type"],
            config=dict(q.get("config", {})),
            middleware=tuple(q.get("middleware", ())),
            tags=tuple(q.get("tags", ())),
            wiring_module=q["wiring_module"],
            has_result=q.get("output_schema") is not None,
        )
        for name, q in sorted(raw["queues"].items())
    }
    return Manifest(
        path=path,
        out_package=raw["out_package"],
        project_root=(path.parent / raw.get("project_root", ".")).resolve(),
        services=raw.get("services"),
        wiring_modules=tuple(raw.get("wiring_modules", ())),
        queues=queues,
        schedules={
            name: Schedule.from_json(name, raw_schedule)
            for name, raw_schedule in sorted(raw.get("schedules", {}).items())
        },
    )
