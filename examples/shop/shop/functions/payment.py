from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qgen import Interaction, sessionless_func
from shop.services import Services


class PaymentRequest(BaseModel):
    order_id: str = Field(min_length=1)
    amount: int = Field(gt=0, description="Amount in cents")
    currency: Literal["EUR", "USD", "GBP"] = "EUR"


class PaymentResult(BaseModel):
    transaction_id: str
    charged: int


class PaymentFailedError(Exception):
    """The payment provider declined or could not be reached; worth retrying."""


@sessionless_func(
    auth=False,
    docs={
        "summary": "Process payment for an order",
        "tags": ["payments"],
        "errors": ["PaymentFailedError"],
    },
)
async def process_payment(
    services: Services, data: PaymentRequest, interaction: Interaction
) -> PaymentResult:
    if interaction.queue is not None:
        await interaction.queue.update_progress(10)
    ok, tx_id = await services.payments.charge(
        order_id=data.order_id, amount=data.amount, currency=data.currency
    )
    if not ok:
        raise PaymentFailedError(f"provider declined order {data.order_id}")
    return PaymentResult(transaction_id=tx_id, charged=data.amount)


@sessionless_func(docs={"summary": "Record a payment that failed for good", "tags": ["payments"]})
async def record_dead_payment(services: Services, data: PaymentRequest) -> None:
    services.audit.append(f"dead payment {data.order_id}")
