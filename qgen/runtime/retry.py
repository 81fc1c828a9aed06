"""Backoff between the attempts of a job.

``backoff`` is the normalized dict of ``config_keys.check_backoff``: ``type`` ("fixed" or
"exponential"), ``delay`` (ms), optional ``max_delay`` (ms) and ``jitter`` (0..1).

- fixed: every retry waits ``delay``.
- exponential: the retry after attempt ``n`` waits ``delay * 2**(n-1)`` (1x, 2x, 4x, ...).
- ``max_delay`` caps the result.
- ``jitter`` j then *reduces* the delay by a random share of up to j: the wait is uniform in
  ``[delay * (1 - j), delay]``. Reducing (never extending) keeps ``max_delay`` a true upper
  bound while still spreading retries of jobs that failed together.
- The result is at most ``config_keys.MAX_DELAY_S`` (inside every backend's range), whatever
  the attempt number or a job's own backoff says: a backoff stored by another producer
  (NaN, infinities, 1e300) never reaches a backend as an unstorable delay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from qgen.runtime.config_keys import MAX_DELAY_MS

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
    delay_ms = _ms(spec.get("delay"), 1000.0)
    if spec.get("type", "exponential") == "exponential":
        delay_ms *= 2.0 ** min(max(attempt - 1, 0), _MAX_EXPONENT)
    delay_ms = min(delay_ms, _ms(spec.get("max_delay"), MAX_DELAY_MS))
    jitter = _ms(spec.get("jitter"), 0.0)
    if jitter > 0:
        delay_ms *= 1.0 - min(jitter, 1.0) * rand()
    return delay_ms / 1000.0


def _ms(value: Any, default: float) -> float:
    """A number from a backoff spec, in 0 .. MAX_DELAY_MS; ``default`` when absent or NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if isinstance(value, float) and math.isnan(value):
        return default
    return float(min(max(value, 0), MAX_DELAY_MS))  # clamped first: a huge int stays exact
