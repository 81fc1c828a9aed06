"""The static scanner: source packages -> ProjectSpec + diagnostics. It never imports user code.

Pipeline: find files -> per-file summaries (libcst, in a process pool, cached on disk by
content hash) -> cross-module resolution in this process -> job functions, wirings, schemas.

Caches under ``cache_dir`` (JSON): ``scan-summaries.json`` (per-file summaries by content hash:
a changed file is parsed again, the others are not) and ``scan-result.json`` (the whole result,
reused when no input changed, so a warm scan only reads and hashes the files).

Speed, measured side by side in one process on a synthetic project of 1,003 files with 1,998
queue functions (2 cores shared with other work): bare ``libcst.parse_module`` of every file
~1x, cold ``scan_project`` (pool of 2) ~0.8-1.3x, serial (``jobs=1``) ~1.05-1.6x, warm ~1.5 %
of cold. Per file after parsing: the summary walk costs ~12 % of the parse and the position
pass ~30 %; resolution and schemas for 2,000 functions ~0.3-0.7 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qgen.codegen.ir import ProjectSpec
from qgen.diagnostics import Diagnostic, Severity, sort_diagnostics


@dataclass(frozen=True)
class ScanResult:
    project: ProjectSpec  # queues sorted by name
    diagnostics: list[Diagnostic]  # every problem found, sorted
    inputs_hash: str  # sha256 over (relative path, content) of the scanned files
    parsed: int = 0  # files parsed in this run (cache misses); for tests and benchmarks


def scan_project(
    root: Path,
    sources: Sequence[str],
    *,
    services: str | None,
    out_package: str,
    cache_dir: Path | None = None,
    jobs: int | None = None,
) -> ScanResult:
    # Imported here: the package's light modules (``sources``, ``guards``) must not pull in
    # libcst for a warm build.
    from qgen.codegen.scan import store
    from qgen.codegen.scan.files import inputs_hash, summaries
    from qgen.codegen.scan.functions import FunctionReader
    from qgen.codegen.scan.resolve import Index
    from qgen.codegen.scan.schedules import ScheduleReader, wired_names
    from qgen.codegen.scan.schema import SchemaBuilder
    from qgen.codegen.scan.sources import discover_checked
    from qgen.codegen.scan.wirings import WiringReader

    files, file_diags = discover_checked(root, sources, out_package)
    digest = inputs_hash(files, file_diags)
    hit = store.load(cache_dir, digest, list(sources), out_package)
    if hit is not None:  # nothing changed since the last scan
        project = ProjectSpec(
            queues=tuple(hit[0]), services=services, out_package=out_package, schedules=hit[2]
        )
        return ScanResult(project, hit[1], digest, 0)
    by_module, parsed = summaries(files, cache_dir, jobs)
    diags: list[Diagnostic] = list(file_diags)
    for summary in by_module.values():
        err = summary["syntax_error"]
        if err is not None:
            line, col, msg, *code = err
            text = f"not scanned: {msg}" if code else f"syntax error: {msg}"
            diags.append(
                Diagnostic(
                    summary["path"], line, col, code[0] if code else "QG001", Severity.ERROR, text
                )
            )
    index = Index(by_module, tuple(sources))
    builder = SchemaBuilder(index)
    functions = FunctionReader(index, builder)
    wirings = WiringReader(index, functions)
    queues = wirings.read_all()
    scheds = ScheduleReader(index, queues, wired_names(index))
    schedules = tuple(scheds.read_all())
    diags = sort_diagnostics(
        diags
        + builder.diagnostics
        + functions.diagnostics
        + wirings.diagnostics
        + scheds.diagnostics
    )
    store.save(cache_dir, digest, list(sources), out_package, queues, diags, schedules)
    project = ProjectSpec(
        queues=tuple(queues), services=services, out_package=out_package, schedules=schedules
    )
    return ScanResult(project, diags, digest, parsed)


__all__ = ["ScanResult", "scan_project"]
