"""The services object every job function receives, created once per worker process."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

log = logging.getLogger("shop")


class FakeEmailService:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        await asyncio.sleep(0.01)  # a network call
        self.sent.append((to, subject))
        log.info("email to %s: %s", to, subject)


class FakePaymentService:
    """Declines the first attempt of orders whose id ends in '-flaky' (a transient outage),
    and every attempt of amounts above 100,000 cents (a card limit)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._ids = itertools.count(1)

    async def charge(self, order_id: str, amount: int, currency: str) -> tuple[bool, str]:
        await asyncio.sleep(0.02)
        if amount > 100_000:
            return False, ""
        if order_id.endswith("-flaky") and order_id not in self._seen:
            self._seen.add(order_id)
            return False, ""
        return True, f"tx-{order_id}-{next(self._ids)}"


@dataclass
class Services:
    email: FakeEmailService = field(default_factory=FakeEmailService)
    payments: FakePaymentService = field(default_factory=FakePaymentService)
    audit: list[str] = field(default_factory=list)
    report_step_seconds: float = 0.3


@asynccontextmanager
async def create_services() -> AsyncIterator[Services]:
    """Opened once when a worker starts and closed when it stops."""
    services = Services()
    log.info("services ready")
    try:
        yield services
    finally:
        log.info("services closed after %d audited attempts", len(services.audit))
