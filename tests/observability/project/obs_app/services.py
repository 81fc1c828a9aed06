"""No services: the jobs need none."""

from __future__ import annotations


class Services:
    pass


def create_services() -> Services:
    return Services()
