"""One queued payload against the current input schema: what fails, and which locked version the
payload was likely made by.

This is the check `qgen check --url` (issue 18, item 3) will run on every job waiting, delayed or
retrying in a live backend, once the operator API can list them; until then it is used by tests
only. It validates with ``jsonschema`` (the schema the build wrote, the same one the lock holds)
and explains failures with the same history the worker uses (``qgen.runtime.schema_changes``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from qgen.codegen.ir import ProjectSpec
from qgen.codegen.lock.manifest import summary
from qgen.codegen.lock.store import LockFile
from qgen.runtime.schema_changes import SchemaHistory, explain

MAX_MESSAGE = 200  # characters of one problem: messages quote the payload's values


@dataclass(frozen=True, slots=True)
class PayloadProblem:
    path: tuple[str | int, ...]  # where in the payload; a missing field's name included
    message: str


@dataclass(frozen=True, slots=True)
class PayloadReport:
    problems: tuple[PayloadProblem, ...]
    hint: str  # "this job was likely made by schema version N ..." or ""

    @property
    def valid(self) -> bool:
        return not self.problems


def histories(lock: LockFile, project: ProjectSpec) -> dict[str, SchemaHistory]:
    """Per queue, the input history a worker of this build would read from its manifest."""
    return {name: SchemaHistory.model_validate(h) for name, h in summary(lock, project).items()}


def check_payload(
    queue: str, schema: dict[str, Any], payload: Any, history: SchemaHistory | None = None
) -> PayloadReport:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems: list[PayloadProblem] = []
    missing_seen: Counter[tuple[str | int, ...]] = Counter()
    for error in validator.iter_errors(payload):
        path: tuple[str | int, ...] = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            # one error per missing property, in the schema's order: name it in the path
            missing = [p for p in error.validator_value if p not in error.instance]
            index = missing_seen[path]
            missing_seen[path] += 1
            if index < len(missing):
                path = (*path, missing[index])
        message = error.message
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        problems.append(PayloadProblem(path, message))
    problems.sort(key=lambda p: ([str(x) for x in p.path], p.message))
    text = ""
    if problems and history is not None and history.breaking:
        text = explain(queue, history, [p.path for p in problems])
    return PayloadReport(tuple(problems), text)
