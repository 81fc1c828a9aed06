"""One job whose behaviour its data chooses, so a test adds a known mix of outcomes."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from pydantic import BaseModel

from qgen import Interaction, sessionless_func

user_log = logging.getLogger("obs_app.user")


class Task(BaseModel):
    mode: Literal["ok", "flaky", "fail", "discard", "hold"]
    tag: str = ""


class Done(BaseModel):
    attempt: int


class FlakyError(RuntimeError):
    """Raised by the first two attempts of a ``flaky`` job."""


@sessionless_func(
    docs={"summary": "ok, flaky (fails twice), fail (always), discard or hold (runs 60 s)"}
)
async def act(services: object, data: Task, interaction: Interaction) -> Done:
    q = interaction.queue
    attempt = q.attempt if q is not None else 1
    user_log.info("user code runs %s (tag %s)", data.mode, data.tag)
    if data.mode == "flaky" and attempt < 3:
        raise FlakyError(f"attempt {attempt} fails")
    if data.mode == "fail":
        raise ValueError("this job always fails")
    if data.mode == "discard" and q is not None:
        q.discard("not wanted")
    if data.mode == "hold":
        await asyncio.sleep(60)  # until an operator cancels it
    return Done(attempt=attempt)
