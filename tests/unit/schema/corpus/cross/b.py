from pydantic import BaseModel

from ..models import Simple as S


class Item(BaseModel):
    b: str
    simple: S
