"""Emails and articles."""

import dataclasses
from typing import NotRequired

from typing_extensions import TypedDict

from qgen import sessionless_func


class WelcomeEmail(TypedDict):
    to: str
    name: str
    locale: NotRequired[str]


@dataclasses.dataclass
class Article:
    slug: str
    title: str
    draft: bool = False


@sessionless_func(docs={"summary": "Send the welcome email"})
def send_welcome_email(services: object, data: WelcomeEmail) -> None:
    return None


@sessionless_func(docs={"summary": "Publish an article", "description": "Renders and uploads it."})
async def publish_article(services: object, data: Article) -> str:
    return data.slug
