"""Fixtures of the observability tests (defined in obs_harness.py)."""

from __future__ import annotations

from obs_harness import backend, client_tracing

__all__ = ["backend", "client_tracing"]
