"""Validation of names that reach SQL, Redis keys, SQS queue names or generated code."""

from __future__ import annotations

import keyword
import re

from qgen.runtime.bullmq_keys import JOB_KEY_SUFFIXES, QUEUE_KEY_NAMES
from qgen.runtime.errors import ConfigError, InvalidJobId

QUEUE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_QUEUE_NAME_RE = re.compile(QUEUE_NAME_PATTERN)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A job id reaches Redis keys, SQL (always as a parameter) and SQS deduplication ids (at most
# 128 characters): printable, bounded, and without ':', which BullMQ uses to build the keys
# beside a job (``<id>:lock``, ``<id>:logs``). One rule on every backend.
JOB_ID_MAX = 128
_JOB_ID_RE = re.compile(rf"[A-Za-z0-9_.@-]{{1,{JOB_ID_MAX}}}")
# Ids a backend may have made itself (BullMQ counters, job-scheduler ids with ':'): looked up,
# never added.
_LOOKUP_ID_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")


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
    """The id a caller gives to ``add``: the same rule on every backend (InvalidJobId)."""
    if not isinstance(job_id, str):
        raise InvalidJobId(job_id, "it must be a string")
    if _JOB_ID_RE.fullmatch(job_id) is None:
        raise InvalidJobId(
            job_id, f"use 1 to {JOB_ID_MAX} letters, digits or _ . @ - (no ':' and no spaces)"
        )
    if job_id.isdigit():
        raise InvalidJobId(job_id, "integer ids (digits only) are the ones backends assign")
    if job_id in QUEUE_KEY_NAMES:
        raise InvalidJobId(job_id, "it is the name of one of BullMQ's own keys of a queue")
    return job_id


def validate_lookup_id(job_id: object) -> str:
    """An id given to ``get``: ids a backend assigned (digits, ``repeat:...``) are fine, names
    of BullMQ's own keys are not (reading one as a job would fail with a raw error)."""
    if not isinstance(job_id, str) or _LOOKUP_ID_RE.fullmatch(job_id) is None:
        raise InvalidJobId(job_id, "1 to 200 letters, digits or _ . : @ -")
    head, _, last = job_id.rpartition(":")
    if job_id in QUEUE_KEY_NAMES or (head and last in JOB_KEY_SUFFIXES):
        raise InvalidJobId(job_id, "it is the name of one of BullMQ's own keys, not a job")
    return job_id
