"""A job's metadata (``AddOptions.meta`` / ``Delivery.meta``) as the text each backend stores
beside the job's data: a flat JSON object of short strings (the W3C trace context).

Reading never fails a job: metadata that is not such an object (a row or message written by
something else) reads as None, and the job runs without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

MAX_CHARS = 2048  # a traceparent is 55 characters; tracestate is at most 32 list members


_last: tuple[Mapping[str, str] | None, str | None] = (None, None)


def encode(meta: Mapping[str, str] | None) -> str | None:
    """The stored text; the jobs of one ``add_many`` share one metadata object, encoded once."""
    global _last
    if not meta:
        return None
    last = _last  # one read: another thread may replace it
    if last[0] is meta:
        return last[1]
    text = json.dumps(dict(meta), separators=(",", ":"), ensure_ascii=True)
    _last = (meta, text)
    return text


_read: tuple[object, dict[str, str] | None] = (None, None)


def decode(text: object) -> Mapping[str, str] | None:
    """The metadata from stored text (or an already decoded object); None when absent or not
    a flat object of strings. The jobs of one ``add_many`` store the same text: the last one
    read is kept, so they share one (read-only) mapping."""
    global _read
    if text is None:  # the common case: a job added without a trace context
        return None
    value = text
    if isinstance(text, str | bytes):
        last = _read
        if last[0] == text:
            return last[1]
        if not text or len(text) > MAX_CHARS:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        meta = _checked(value)
        _read = (text, meta)
        return meta
    return _checked(value)


def _checked(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict) or not value:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value
