"""Job functions of the hostile suite. ``SEEN`` records, per queue, the key of every job that
ran (in-process workers share this module with the test)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from qgen import sessionless_func

SEEN: dict[str, list[str]] = {}


def seen(queue: str) -> list[str]:
    return SEEN.get(queue, [])


class Item(BaseModel):
    key: str
    value: Any = None
    amount: float = 0.0
    mode: Literal["ok", "raise"] = "ok"


class Mail(BaseModel):
    """Fields whose JSON names are not Python names: they travel by alias."""

    sender: str = Field(alias="from")
    message_id: str = Field(alias="message-id")
    subject: str = ""


class Receipt(BaseModel):
    to_address: str = Field(alias="to-address")
    sender: str = Field(alias="from")


ResultMode = Literal["ok", "nan", "inf-in-dict", "nul", "surrogate", "deep", "object"]


class ResultCase(BaseModel):
    key: str
    mode: ResultMode = "ok"


def _hostile(mode: str) -> Any:
    if mode == "nan":
        return float("nan")
    if mode == "inf-in-dict":
        return {"v": [1.0, float("-inf")]}
    if mode == "nul":
        return "a\x00b"
    if mode == "surrogate":
        return {"text": "lone \ud800"}
    if mode == "deep":
        deep: Any = []
        for _ in range(5000):
            deep = [deep]
        return deep
    if mode == "object":
        return {"thing": object()}
    return {"fine": True}


@sessionless_func()
async def record(services: Any, data: Item) -> Item:
    SEEN.setdefault("h-record", []).append(data.key)
    if data.mode == "raise":
        raise RuntimeError(f"job {data.key} fails on purpose")
    return data


@sessionless_func()
async def mail(services: Any, data: Mail) -> Receipt:
    SEEN.setdefault("h-mail", []).append(f"{data.sender}|{data.message_id}|{data.subject}")
    return Receipt.model_validate({"to-address": data.sender, "from": "robot"})


@sessionless_func()
async def any_result(services: Any, data: ResultCase) -> Any:
    SEEN.setdefault("h-result", []).append(data.key)
    return _hostile(data.mode)


@sessionless_func()
async def float_result(services: Any, data: ResultCase) -> float:
    SEEN.setdefault("h-measure", []).append(data.key)
    return float("nan") if data.mode == "nan" else 1.5


@sessionless_func()
async def dead(services: Any, data: Any) -> None:
    key = data.get("key") if isinstance(data, dict) else repr(data)
    SEEN.setdefault("h-dead", []).append(str(key))
