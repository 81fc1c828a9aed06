"""What the dashboard knows of a built project: each queue's schemas, docs and capability notes
(read from the generated ``manifest.json``), and the generated async client class that the
data comes through (found through the manifest's ``out_package``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgen import ConfigError
from qgen.runtime.capabilities import CONFIG_SUPPORT, FEATURES, Feature, Level, config_support
from qgen.runtime.client import AsyncClientBase
from qgen.runtime.manifest import Manifest, load_manifest


@dataclass(frozen=True, slots=True)
class KeySupport:
    """How the current backend honours one config key a queue sets."""

    key: str
    value: Any
    level: Level
    note: str


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    accessor: str
    function: str
    input_type: str
    output_type: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None
    summary: str
    description: str
    tags: tuple[str, ...]
    config: Mapping[str, Any]
    warnings: Mapping[str, tuple[str, ...]]  # backend -> the build's notes (QG30x) for it

    @property
    def dead_letter(self) -> str | None:
        value = self.config.get("dead_letter")
        return value if isinstance(value, str) else None

    def key_support(self, backend: str) -> list[KeySupport]:
        return [
            KeySupport(key, value, support.level, support.note)
            for key, value in sorted(self.config.items())
            if key in CONFIG_SUPPORT
            for support in [config_support(key, backend)]
        ]


@dataclass(frozen=True, slots=True)
class FeatureNote:
    feature: str
    level: Level
    note: str


def backend_features(backend: str) -> list[FeatureNote]:
    """The capability table's feature rows for one backend (results, progress, status, ...)."""
    return [
        FeatureNote(feat.value, FEATURES[feat][backend].level, FEATURES[feat][backend].note)
        for feat in Feature
        if backend in FEATURES.get(feat, {})
    ]


@dataclass(frozen=True, slots=True)
class Project:
    manifest: Manifest
    queues: Mapping[str, QueueView]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; run `qgen build`") from exc


def _strip_queue_prefix(name: str, text: str) -> str:
    # The build writes "queue 'payments': config x is ignored ..."; the page shows it per queue.
    prefix = f"queue {name!r}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _queue_view(name: str, raw: Mapping[str, Any], folder: Path) -> QueueView:
    docs = raw.get("docs") or {}
    output = raw.get("output_schema")
    warnings = raw.get("warnings") or {}
    return QueueView(
        name=name,
        accessor=str(raw.get("accessor", name)),
        function=str(raw.get("function", "")),
        input_type=str(raw.get("input_type", "")),
        output_type=str(raw.get("output_type", "None")),
        input_schema=_read_json(folder / raw["input_schema"]),
        output_schema=_read_json(folder / output) if output else None,
        summary=str(docs.get("summary") or ""),
        description=str(docs.get("description") or ""),
        tags=tuple(str(t) for t in raw.get("tags", ())),
        config=dict(raw.get("config") or {}),
        warnings={
            str(b): tuple(_strip_queue_prefix(name, str(w)) for w in ws)
            for b, ws in sorted(warnings.items())
        },
    )


def load_project(manifest_path: str | Path) -> Project:
    """Read ``manifest.json`` and the schema files it names. Raises ConfigError."""
    manifest = load_manifest(manifest_path)
    raw = _read_json(manifest.path)
    queues = {
        name: _queue_view(name, q, manifest.path.parent)
        for name, q in sorted(raw.get("queues", {}).items())
    }
    return Project(manifest=manifest, queues=queues)


def manifest_beside(client: AsyncClientBase) -> Path:
    """The ``manifest.json`` next to the generated module that defines ``client``'s class (or
    the nearest base class, when the client is a subclass of the generated one)."""
    for cls in type(client).__mro__:
        file = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if file and (Path(file).resolve().parent / "manifest.json").is_file():
            return Path(file).resolve().parent / "manifest.json"
    raise ConfigError(
        f"cannot find manifest.json beside {type(client).__name__}: pass manifest= to create_app"
    )
