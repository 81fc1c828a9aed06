"""No services are needed; the factory exists because workers take one."""

from __future__ import annotations


def create_services() -> dict[str, str]:
    return {}
