"""Backoff between the attempts of a job.

``backoff`` is the normalized dict of ``config_keys.check_backoff``: ``type`` ("fixed" or
"exponential"), ``delay`` (ms), optional ``max_delay`` (ms) and ``jitter`` (0..1).

- fixed: every retry waits ``delay``.
- exponential: the retry after attempt ``n`` waits ``delay * 2**(n-1)`` (1x, 2x, 4x, ...).
- ``max_delay`` caps the result.
- ``jitter`` j then *reduces* the delay by a random share of up to j: the wait is uniform in
  ``[delay * (1 - j), delay]``. Reducing (never extending) keeps ``max_delay`` a true upper
  bound while still spreading retries of jobs that failed together.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_BACKOFF: Mapping[str, Any] = {"type": "exponential", "delay": 1000}
_MAX_EXPONENT = 60  # 2**60 ms is already far beyond any useful delay; avoids float overflow


def backoff_delay(
    backoff: Mapping[str, Any] | None,
    attempt: int,
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the next try, after attempt number ``attempt`` (1-based) failed."""
    spec = backoff if backoff is not None else DEFAULT_BACKOFF
    delay_ms = float(spec.get("delay", 1000))
    if spec.get("type", "exponential") == "exponential":
        delay_ms *= 2.0 ** min(max(attempt - 1, 0), _MAX_EXPONENT)
    max_delay = spec.get("max_delay")
    if max_delay is not None:
        delay_ms = min(delay_ms, float(max_delay))
    jitter = float(spec.get("jitter", 0) or 0)
    if jitter > 0:
        delay_ms *= 1.0 - min(jitter, 1.0) * rand()
    return max(delay_ms, 0.0) / 1000.0
