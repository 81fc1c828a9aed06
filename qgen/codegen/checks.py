"""Build-time warnings about backends, read from the one capability table.

QG301: a queue's config sets a key that a backend ignores (one warning per queue, key and
backend). QG302: a job function returns a value but a backend stores no results.
"""

from __future__ import annotations

from qgen.codegen.ir import ProjectSpec
from qgen.diagnostics import Diagnostic, Severity, sort_diagnostics
from qgen.runtime.capabilities import BACKENDS, Feature, feature, supports, unsupported_keys


def backend_warnings(
    project: ProjectSpec,
) -> tuple[list[Diagnostic], dict[str, dict[str, list[str]]]]:
    """(diagnostics, {queue: {backend: [warning text, ...]}}) for every queue and backend."""
    diags: list[Diagnostic] = []
    texts: dict[str, dict[str, list[str]]] = {}
    for queue in project.queues:
        per_backend: dict[str, list[str]] = {}
        loc = queue.location
        for backend in BACKENDS:
            found: list[tuple[str, str]] = []
            for key, reason in unsupported_keys(queue.config, backend):
                found.append(
                    (
                        "QG301",
                        f"queue {queue.name!r}: config {key} is ignored by {backend}: {reason}",
                    )
                )
            if queue.function.output_schema is not None and not supports(Feature.RESULTS, backend):
                reason = feature(Feature.RESULTS, backend).note
                found.append(
                    (
                        "QG302",
                        f"queue {queue.name!r}: {queue.function.name} returns "
                        f"{queue.function.output_type} but {backend} stores no results: {reason}",
                    )
                )
            per_backend[backend] = [message for _, message in found]
            diags.extend(
                Diagnostic(loc.path, loc.line, loc.col, code, Severity.WARNING, message)
                for code, message in found
            )
        texts[queue.name] = per_backend
    return sort_diagnostics(diags), texts
