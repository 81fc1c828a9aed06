"""Hostile text everywhere a user can put text: it must end up as data in valid code."""

import enum
from typing import Literal

from pydantic import BaseModel, Field

from qgen import sessionless_func, wire_queue_worker

EVIL = "Evil \"\"\" triple ''' single \\ backslash {{ jinja }} {% if x %} block\nnew line é ☃ 中文"


class Kind(enum.Enum):
    ODD = 'it\'s "odd" {{ }}'
    BACKSLASH = "\\n"


class Payload(BaseModel):
    '''Model doc with """ and \'\'\' and \\ and {{ x }} {% y %}
    second line é ☃'''

    text: str = Field(description="desc with \"\"\" ''' \\ {{ a }} {% b %}\nline two ✓")
    raw: str = Field(default="\\\"'{{}}", title='A "title"')
    mode: Literal["a'b", 'c"d', "{{x}}", "\\"] = "a'b"
    kind: Kind = Kind.ODD
    odd_key: int = Field(default=0, alias="weird key \"'{{")


@sessionless_func(
    docs={
        "summary": "Evil \"\"\" triple ''' single \\ backslash {{ jinja }} {% if x %} block\nnew line é ☃ 中文",  # noqa: E501
        "description": '"""; import os; os.system(\'echo pwned\') #',
        "tags": ["t\"'\\{{", "\u2028sep"],
        "errors": ["{% raw %}"],
    }
)
async def evil(services: object, data: Payload) -> None:
    return None


@sessionless_func(docs={"summary": 'ends with a quote"'})
def quote_end(services: object, data: str) -> str:
    return data


wire_queue_worker(queue="evil", func=evil, tags=['"""', "'''", "{{x}}"])
wire_queue_worker(queue="quote-end", func=quote_end, config={"name": "w\"'\\{{ }}"})
