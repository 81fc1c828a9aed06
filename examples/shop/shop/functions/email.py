from __future__ import annotations

from pydantic import BaseModel, Field

from qgen import sessionless_func
from shop.services import Services


class WelcomeEmail(BaseModel):
    """A welcome email for a new customer."""

    user_id: int = Field(ge=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="Where to send it")
    name: str = Field(min_length=1, max_length=100)


@sessionless_func(docs={"summary": "Send the welcome email to a new customer", "tags": ["email"]})
async def send_welcome_email(services: Services, data: WelcomeEmail) -> None:
    await services.email.send(
        to=data.email, subject="Welcome to the shop", body=f"Hello {data.name}!"
    )
