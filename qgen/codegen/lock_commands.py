"""``qgen lock`` and the lock half of ``qgen check`` (beside ``build``, which it runs: the
``lock`` package stays below ``build``).

``qgen check``: every change from qgen.lock.json to the current build that breaks old jobs
(input) or old callers (output) is printed as ``path:line:col: QG4xx ...`` and exits 1;
compatible changes pass (``--explain`` lists them). A project without a lock is not checked.
``qgen lock``: records the current schemas (the next version for each changed queue), then
rebuilds, so manifest.json carries the new history.
"""

from __future__ import annotations

from typing import TextIO

from qgen.codegen.ir import ProjectSpec
from qgen.codegen.lock import LOCK_FILE
from qgen.codegen.lock.report import QueueChange, compare_project, lock_summary, next_lock
from qgen.codegen.lock.store import LockError, lock_path, read_lock, write_lock
from qgen.config import Config
from qgen.diagnostics import Diagnostic, Severity, sort_diagnostics


def lock_error(exc: LockError) -> Diagnostic:
    return Diagnostic(LOCK_FILE, exc.line, exc.col, "QG400", Severity.ERROR, str(exc))


def check_lock(
    config: Config, project: ProjectSpec, *, explain: bool, out: TextIO, err: TextIO
) -> int:
    """0: nothing breaks; 1: a breaking change (one diagnostic each); 2: the lock is unusable."""
    try:
        lock = read_lock(config.root)
    except LockError as exc:
        print(lock_error(exc).format(), file=err)
        return 2
    if lock is None:
        if explain:
            print(f"qgen: no {LOCK_FILE}; run `qgen lock` to guard schema changes", file=out)
        return 0
    changes = compare_project(lock, project)
    breaking = [c for c in changes if c.breaking]
    compatible = [c for c in changes if not c.breaking]
    shown = changes if explain else breaking
    where = _locations(config, project, shown)
    diags = [
        Diagnostic(*where[i], c.change.code or "QG409", Severity.ERROR, c.message)
        for i, c in enumerate(shown)
        if c.breaking
    ]
    for d in sort_diagnostics(diags):
        print(d.format(), file=err)
    if explain and compatible:
        print(f"qgen: compatible changes since {LOCK_FILE} (`qgen lock` records them):", file=out)
        notes = sorted((*where[i], c.message) for i, c in enumerate(shown) if not c.breaking)
        for path, line, col, message in notes:
            print(f"{path}:{line}:{col}: {message}", file=out)
    if breaking:
        print(
            f"qgen: {len(breaking)} breaking schema change(s) against {LOCK_FILE}; if they are "
            "intended, run `qgen lock` and commit it",
            file=out,
        )
        return 1
    if not changes and explain:
        print(f"qgen: no schema changes since {LOCK_FILE}", file=out)
    if compatible and not explain:
        print(
            f"qgen: {len(compatible)} compatible schema change(s) not yet in {LOCK_FILE} "
            "(--explain lists them)",
            file=out,
        )
    return 0


def _locations(
    config: Config, project: ProjectSpec, changes: list[QueueChange]
) -> list[tuple[str, int, int]]:
    if not changes:
        return []
    from qgen.codegen.lock.locate import Locator

    try:
        text = lock_path(config.root).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    locator = Locator(config, project, text)
    found = [locator.locate(c) for c in changes]
    return [(loc.path, loc.line, loc.col) for loc in found]


def run_lock(config: Config, *, jobs: int | None, out: TextIO, err: TextIO) -> int:
    """Record the current schemas; 2 (nothing written) when the build has errors."""
    from qgen.codegen.build import analyse, run
    from qgen.diagnostics import has_errors

    outcome = analyse(config, jobs=jobs)
    if has_errors(outcome.diagnostics) or outcome.project is None:
        for d in outcome.diagnostics:
            print(d.format(), file=err)
        print(f"qgen: {LOCK_FILE} not written", file=out)
        return 2
    try:
        old = read_lock(config.root)
    except LockError as exc:
        print(lock_error(exc).format(), file=err)
        return 2
    changes = compare_project(old, outcome.project) if old is not None else []
    new = next_lock(old, outcome.project)
    if write_lock(config.root, new):
        print(f"qgen: wrote {LOCK_FILE}", file=out)
        for line in lock_summary(old, new, changes):
            print(line, file=out)
    else:
        print(f"qgen: {LOCK_FILE} is up to date", file=out)
    build = run(config, jobs=jobs)  # manifest.json summarizes the lock
    for d in build.diagnostics:
        print(d.format(), file=err)
    for line in build.replayed:
        print(line, file=err)
    for line in build.lines:
        print(line, file=out)
    return build.exit_code
