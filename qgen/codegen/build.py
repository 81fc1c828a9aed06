"""``qgen build`` / ``qgen check`` / ``qgen list``: config -> scan -> checks -> render -> output.

Exit codes: 0 success (or fresh), 1 ``check`` found stale output, 2 errors. With
``fail_on_warning`` warnings count as errors: exit 2 and nothing is written.

A warm build is skipped before scanning: the inputs hash (qgen's version, the settings, every
scanned file's bytes) plus the generator's own fingerprint form a key kept in
``.qgen/cache/build.json``; when it matches, the manifest records the same inputs hash and every
file the manifest lists still has its recorded hash, the output is current and the warnings
recorded in the manifest are replayed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import qgen
from qgen.codegen import output
from qgen.codegen.gcpause import paused_gc
from qgen.codegen.ir import ProjectSpec
from qgen.codegen.literals import RenderError
from qgen.codegen.lock import add_lock_summary, lock_bytes
from qgen.codegen.scan.sources import discover_checked
from qgen.codegen.timings import phase
from qgen.config import Config
from qgen.diagnostics import Diagnostic, Severity, has_errors, sort_diagnostics


@dataclass
class Outcome:
    exit_code: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)  # warnings from a skipped (warm) build
    lines: list[str] = field(default_factory=list)  # summary for stdout
    diff: str = ""
    project: ProjectSpec | None = None
    warnings: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def out_label(config: Config) -> str:
    return config.out


@functools.cache
def generator_fingerprint() -> str:
    """qgen's own codegen sources and templates: a changed generator invalidates warm builds
    even when the version number stayed the same (development installs)."""
    h = hashlib.sha256()
    base = Path(__file__).resolve().parent.parent
    for folder, pattern in (("codegen", "**/*.py"), ("templates", "*.jinja")):
        for path in sorted((base / folder).glob(pattern)):
            h.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def inputs_hash(config: Config) -> str:
    """What ``__init__.py`` and the manifest record: qgen's version, the settings and every
    scanned file's bytes."""
    h = hashlib.sha256()
    h.update(f"{qgen.__version__}\0{(config.sources, config.out, config.services)!r}\0".encode())
    # The scanner's own discovery: only regular files, size-limited (a FIFO must not block).
    files, problems = discover_checked(config.root, config.sources, config.out_package)
    for problem in problems:
        h.update(problem.format().encode() + b"\0")
    for f in files:
        h.update(f"{f.path}\0{len(f.content)}\0".encode())
        h.update(f.content)
    return h.hexdigest()


def build_key(inputs: str, lock: bytes = b"") -> str:
    """The warm-build key: the inputs plus the generator itself (kept out of the generated
    files, so editing qgen does not churn every project's output) and the schema lock's bytes
    (manifest.json summarizes it)."""
    parts = (inputs, generator_fingerprint(), version("datamodel-code-generator"))
    return hashlib.sha256("\0".join(parts).encode() + lock).hexdigest()


def _state_file(config: Config) -> Path:
    return config.root / ".qgen" / "cache" / "build.json"


def _save_state(config: Config, key: str) -> None:
    path = _state_file(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = config.root / ".qgen" / ".gitignore"
        if not ignore.exists():  # caches and the embedded queue file are local state
            ignore.write_text("# created by qgen: local caches and queue files\n*\n")
        tmp = path.with_name(f"build.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "out": config.out}), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # only costs a full build next time


def _warm(config: Config, inputs: str, key: str) -> list[str] | None:
    """The recorded warnings if the output on disk is current, else None."""
    try:
        state = json.loads(_state_file(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("key") != key or state.get("out") != config.out:
        return None
    manifest = output.read_manifest(config.out_dir)
    if manifest is None or manifest.get("qgen_version") != qgen.__version__:
        return None
    build = manifest.get("build")
    if not isinstance(build, dict) or build.get("inputs_hash") != inputs:
        return None
    if not output.is_intact(config.out_dir, manifest):
        return None
    warnings = build.get("warnings", [])
    return [str(w) for w in warnings] if isinstance(warnings, list) else []


def _internal(config: Config, exc: BaseException) -> Diagnostic:
    return Diagnostic(
        "pyproject.toml", 1, 1, "QG005", Severity.ERROR, f"cannot generate code: {exc}"
    )


def analyse(config: Config, *, jobs: int | None = None) -> Outcome:
    """Scan and check: the project, every diagnostic, and per-queue backend warnings."""
    from qgen.codegen.checks import backend_warnings
    from qgen.codegen.scan import scan_project

    with phase("scan"):
        result = scan_project(
            config.root,
            list(config.sources),
            services=config.services,
            out_package=config.out_package,
            cache_dir=config.root / ".qgen" / "cache" / "scan",
            jobs=jobs,
        )
    diags = list(result.diagnostics)
    warnings: dict[str, dict[str, list[str]]] = {}
    if not has_errors(diags):
        extra, warnings = backend_warnings(result.project)
        diags += extra
    return Outcome(0, sort_diagnostics(diags), project=result.project, warnings=warnings)


def _render(
    config: Config, outcome: Outcome, inputs: str, jobs: int | None
) -> dict[str, bytes] | None:
    """The generated tree, or None with an internal-error diagnostic on ``outcome``."""
    from qgen.codegen.render import RenderInput, render_tree  # jinja2, pydantic: cold only

    assert outcome.project is not None
    diags = outcome.diagnostics
    rel_root = Path(os.path.relpath(config.root, config.out_dir)).as_posix()
    try:
        return render_tree(
            RenderInput(
                outcome.project,
                outcome.warnings,
                inputs,
                rel_root,
                tuple(d.format() for d in diags if d.severity is Severity.WARNING),
            ),
            cache_dir=config.root / ".qgen" / "cache",
            jobs=jobs,
        )
    except (RenderError, RuntimeError, ValueError) as exc:
        outcome.diagnostics = sort_diagnostics([*diags, _internal(config, exc)])
        outcome.exit_code = 2
        return None


def run(
    config: Config,
    *,
    check: bool = False,
    fail_on_warning: bool = False,
    force: bool = False,
    jobs: int | None = None,
) -> Outcome:
    with phase("hash"):
        inputs = inputs_hash(config)
        key = build_key(inputs, lock_bytes(config.root))
    if not check and not force:
        replay = _warm(config, inputs, key)
        if replay is not None:
            code = 2 if fail_on_warning and replay else 0
            return Outcome(code, replayed=replay, lines=[f"qgen: {config.out} is up to date"])
    with paused_gc():
        outcome = analyse(config, jobs=jobs)
    diags = outcome.diagnostics
    failing = has_errors(diags) or (fail_on_warning and bool(diags))
    if failing or outcome.project is None:
        outcome.exit_code = 2
        outcome.lines.append(f"qgen: nothing written to {config.out}" if not check else "")
        outcome.lines = [line for line in outcome.lines if line]
        return outcome
    with paused_gc():
        tree = _render(config, outcome, inputs, jobs)
    if tree is None:
        return outcome
    add_lock_summary(config, outcome.project, tree)  # schema lock: its summary for workers
    label = out_label(config)
    foreign = output.conflicts(config.out_dir, tree, label)
    if check:
        cmp = output.compare(config.out_dir, tree, label)
        outcome.diff = cmp.diff
        if cmp.fresh:
            outcome.lines.append(f"qgen: {label} is up to date")
        else:
            outcome.exit_code = 1
            outcome.lines.append(f"qgen: {label} is stale; run `qgen build`")
            outcome.lines += [f"  changed: {label}/{p}" for p in cmp.changed]
            outcome.lines += [f"  missing: {label}/{p}" for p in cmp.missing]
            outcome.lines += [f"  extra:   {label}/{p}" for p in cmp.extra]
        return outcome
    if foreign:
        outcome.diagnostics = sort_diagnostics([*diags, *foreign])
        outcome.exit_code = 2
        outcome.lines.append(f"qgen: nothing written to {label}")
        return outcome
    with phase("write"):
        written, deleted = output.write_tree(config.out_dir, tree)
        _save_state(config, key)
    outcome.lines.append(
        f"qgen: {len(outcome.project.queues)} queue(s); wrote {len(written)} file(s), "
        f"deleted {len(deleted)}, in {label}"
    )
    return outcome
