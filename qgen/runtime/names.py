"""Validation of names that reach SQL, Redis keys, SQS queue names or generated code."""

from __future__ import annotations

import keyword
import re

from qgen.runtime.errors import ConfigError

QUEUE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_QUEUE_NAME_RE = re.compile(QUEUE_NAME_PATTERN)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A job id reaches Redis keys and SQL (always as a parameter); keep it printable and bounded.
_JOB_ID_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")


def is_valid_queue_name(name: object) -> bool:
    return isinstance(name, str) and _QUEUE_NAME_RE.fullmatch(name) is not None


def validate_queue_name(name: object) -> str:
    if not is_valid_queue_name(name):
        raise ConfigError(
            f"invalid queue name {name!r}: it must match {QUEUE_NAME_PATTERN} "
            "(letters, digits, '_', '.', '-'; starts with a letter or digit; at most 128 chars)"
        )
    assert isinstance(name, str)
    return name


def accessor_for(queue: str) -> str:
    """The client attribute for a queue: '-' and '.' become '_'; a leading digit or a keyword
    gets a trailing or leading underscore so the result is always an identifier."""
    ident = queue.replace("-", "_").replace(".", "_")
    if ident[0].isdigit():
        ident = "q_" + ident
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident):
        ident += "_"
    return ident


def is_identifier(name: str) -> bool:
    return _IDENT_RE.fullmatch(name) is not None and not keyword.iskeyword(name)


def validate_job_id(job_id: object) -> str:
    if not isinstance(job_id, str) or _JOB_ID_RE.fullmatch(job_id) is None:
        raise ConfigError(
            f"invalid job_id {job_id!r}: 1 to 200 characters of letters, digits and _ . : @ -"
        )
    return job_id
