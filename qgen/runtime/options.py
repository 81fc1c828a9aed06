"""Types of the options a client passes with a job: the client side's own, so neither the
generated client nor ``qgen.runtime.client`` imports the worker side to name them."""

from __future__ import annotations

from typing import Literal, TypedDict


class BackoffConfig(TypedDict, total=False):
    type: Literal["fixed", "exponential"]  # default "exponential"
    delay: float  # ms before the first retry (default 1000); doubles each try if exponential
    max_delay: float  # ms cap of the delay
    jitter: float  # 0..1: the delay is reduced by a random share of up to this fraction


class KeepJobs(TypedDict, total=False):
    """``remove_on_complete`` / ``remove_on_fail`` as BullMQ's KeepJobs: finished jobs older
    than ``age`` seconds are removed, and all but the newest ``count``."""

    age: float  # seconds (a timedelta is accepted too)
    count: int
