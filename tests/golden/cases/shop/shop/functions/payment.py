"""Payments."""

from pydantic import BaseModel, Field

from qgen import Interaction, sessionless_func


class PaymentRequest(BaseModel):
    order_id: str = Field(min_length=1)
    amount: int = Field(gt=0, description="Amount in cents")
    currency: str = "EUR"


class PaymentResult(BaseModel):
    transaction_id: str


@sessionless_func(
    auth=False,
    docs={"summary": "Process payment for an order", "tags": ["payments"], "errors": ["Declined"]},
)
async def process_payment(
    services: object, data: PaymentRequest, interaction: Interaction
) -> PaymentResult:
    return PaymentResult(transaction_id="tx-" + data.order_id)
