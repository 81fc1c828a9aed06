"""Whole-scan cache: when no input file changed, the previous queues and diagnostics are
loaded as JSON instead of being resolved again.

Keyed by the inputs hash and by a hash of the scanner's own source, so a new qgen (or a
changed scanner) never reuses an old result.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from qgen.codegen.ir import FunctionSpec, QueueSpec, ScheduleSpec, SourceLocation
from qgen.diagnostics import Diagnostic, Severity

RESULT_FILE = "scan-result.json"


@cache
def scanner_fingerprint() -> str:
    """Hash of the code that decides what a scan returns."""
    import qgen.codegen.client_names as client_names
    import qgen.runtime.config_keys as config_keys
    import qgen.runtime.names as names
    import qgen.runtime.schedules as schedules

    h = hashlib.sha256()
    paths = sorted(Path(__file__).resolve().parent.glob("*.py"))  # the scanner, schemas included
    paths += [Path(m.__file__ or "") for m in (client_names, config_keys, names, schedules)]
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _key(inputs: str, sources: list[str], out_package: str) -> str:
    return hashlib.sha256(
        json.dumps([scanner_fingerprint(), inputs, sources, out_package]).encode()
    ).hexdigest()


def load(
    cache_dir: Path | None, inputs: str, sources: list[str], out_package: str
) -> tuple[list[QueueSpec], list[Diagnostic], tuple[ScheduleSpec, ...]] | None:
    if cache_dir is None:
        return None
    try:
        raw = json.loads((cache_dir / RESULT_FILE).read_text("utf-8"))
        if raw.get("key") != _key(inputs, sources, out_package):
            return None
        queues = [_queue(q) for q in raw["queues"]]
        diags = [
            Diagnostic(d[0], d[1], d[2], d[3], Severity(d[4]), d[5]) for d in raw["diagnostics"]
        ]
        schedules = tuple(_schedule(d) for d in raw.get("schedules", []))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return queues, diags, schedules


def save(
    cache_dir: Path | None,
    inputs: str,
    sources: list[str],
    out_package: str,
    queues: list[QueueSpec],
    diags: list[Diagnostic],
    schedules: tuple[ScheduleSpec, ...] = (),
) -> None:
    if cache_dir is None:
        return
    data = {
        "key": _key(inputs, sources, out_package),
        "queues": [_queue_json(q) for q in queues],
        "diagnostics": [
            [d.path, d.line, d.col, d.code, d.severity.value, d.message] for d in diags
        ],
        "schedules": [
            {**s.to_json(), "name": s.name, "module": s.wiring_module, "location": _loc(s.location)}
            for s in schedules
        ],
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{RESULT_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, separators=(",", ":")), "utf-8")
        os.replace(tmp, cache_dir / RESULT_FILE)
    except OSError:
        pass


def _loc(loc: SourceLocation | None) -> list[Any] | None:
    return None if loc is None else [loc.path, loc.line, loc.col]


def _queue_json(q: QueueSpec) -> dict[str, Any]:
    f = q.function
    return {
        "name": q.name,
        "accessor": q.accessor,
        "config": q.config,
        "middleware": list(q.middleware),
        "tags": list(q.tags),
        "wiring_module": q.wiring_module,
        "location": _loc(q.location),
        "function": {
            "name": f.name,
            "module": f.module,
            "is_async": f.is_async,
            "takes_interaction": f.takes_interaction,
            "input_type": f.input_type,
            "output_type": f.output_type,
            "input_schema": f.input_schema,
            "output_schema": f.output_schema,
            "docs": f.docs,
            "auth": f.auth,
            "permissions": list(f.permissions),
            "location": _loc(f.location),
        },
    }


def _queue(d: dict[str, Any]) -> QueueSpec:
    f = d["function"]
    floc = f["location"]
    return QueueSpec(
        name=d["name"],
        accessor=d["accessor"],
        function=FunctionSpec(
            name=f["name"],
            module=f["module"],
            is_async=f["is_async"],
            takes_interaction=f["takes_interaction"],
            input_type=f["input_type"],
            output_type=f["output_type"],
            input_schema=f["input_schema"],
            output_schema=f["output_schema"],
            docs=f["docs"],
            auth=f["auth"],
            permissions=tuple(f["permissions"]),
            location=None if floc is None else SourceLocation(*floc),
        ),
        config=d["config"],
        middleware=tuple(d["middleware"]),
        tags=tuple(d["tags"]),
        wiring_module=d["wiring_module"],
        location=SourceLocation(*d["location"]),
    )


def _schedule(d: dict[str, Any]) -> ScheduleSpec:
    return ScheduleSpec(
        name=d["name"],
        queue=d["queue"],
        cron=d["cron"],
        every_ms=d["every_ms"],
        tz=d["tz"],
        data=d["data"],
        catch_up=d["catch_up"],
        wiring_module=d["module"],
        location=SourceLocation(*d["location"]),
    )
