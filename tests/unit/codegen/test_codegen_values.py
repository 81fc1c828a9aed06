"""Values the generated models must carry as the user's types do: a ``Decimal`` stays a Decimal
both ways, and a field that may be left out but has no default stays absent (pydantic's
``MISSING``) instead of turning into ``None``."""

from __future__ import annotations

import copy
import decimal
import enum
import uuid
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import Field, TypeAdapter, ValidationError

from qgen.codegen import models
from qgen.codegen.scan.known import SIMPLE
from tests.unit.codegen.test_codegen_models import _model, _queue, load

__all__ = ["load"]  # the fixture, imported for the tests below

DECIMAL = SIMPLE["decimal.Decimal"]


def _schema() -> dict[str, Any]:
    dec = copy.deepcopy(DECIMAL)
    invoice = _model(
        "Invoice",
        {
            "total": dec,
            "tip": {**copy.deepcopy(DECIMAL), "default": "0.50"},
            "fee": {"anyOf": [*copy.deepcopy(DECIMAL["anyOf"]), {"type": "null"}], "default": None},
            "note": {"type": "string"},  # not required, no default: NotRequired, default_factory
            "lines": {"type": "array", "items": {"type": "integer"}},
        },
    )
    invoice["required"] = ["total"]
    return invoice


def test_a_decimal_is_a_decimal_in_the_model_and_its_json_round_trips(load: Any) -> None:
    queue = _queue("bill", _schema(), copy.deepcopy(DECIMAL))
    rendered = models.render_models(models.combine([queue]), "# banner")
    assert rendered.fallback == ()
    mod = load(rendered.text)
    invoice = mod.Invoice.model_validate({"total": "12.50"})
    assert type(invoice.total) is decimal.Decimal and invoice.total == decimal.Decimal("12.50")
    assert invoice.tip == decimal.Decimal("0.50") and type(invoice.tip) is decimal.Decimal
    assert invoice.fee is None
    sent = invoice.model_dump(mode="json", exclude_unset=True)
    assert sent == {"total": "12.50"}  # as a string: no float rounding on the way
    back = mod.Invoice.model_validate(sent)
    assert back.total == decimal.Decimal("12.50") and str(back.total) == "12.50"
    # the queue's output (a bare Decimal) reads back as a Decimal too
    out = TypeAdapter(mod.BillOutput).validate_json('"0.1"')
    assert type(out) is decimal.Decimal and out == decimal.Decimal("0.1")
    assert mod.Invoice.model_validate({"total": 3, "fee": "1.25"}).fee == decimal.Decimal("1.25")
    with pytest.raises(ValidationError):
        mod.Invoice.model_validate({"total": "twelve"})
    # the dict form accepts what pydantic accepts for a Decimal
    assert "decimal.Decimal | float | str" in rendered.text


def test_a_field_left_out_without_a_default_stays_absent(load: Any) -> None:
    rendered = models.render_models(models.combine([_queue("bill", _schema(), None)]), "# b")
    mod = load(rendered.text)
    assert "note: str | MISSING = MISSING" in rendered.text
    invoice = mod.Invoice(total=1)
    assert invoice.note is pydantic.MISSING and invoice.lines is pydantic.MISSING
    assert invoice.model_dump(mode="json") == {"total": "1", "tip": "0.50", "fee": None}
    assert mod.Invoice.model_validate({"total": 1}).model_dump(exclude_unset=True) == {
        "total": decimal.Decimal(1)
    }
    assert mod.Invoice(total=1, note="n").model_dump(mode="json")["note"] == "n"
    with pytest.raises(ValidationError):  # absent is not null
        mod.Invoice.model_validate({"total": 1, "note": None})
    # (pydantic reads the twin's string annotations; __required_keys__ hides NotRequired here)
    assert TypeAdapter(mod.InvoiceDict).json_schema()["required"] == ["total"]


def test_the_v1_method_list_is_what_the_installed_pydantic_has() -> None:
    """The names a field may not take without a check of pydantic itself: BaseModel's public
    attributes outside ``model_``."""
    from pydantic import BaseModel

    from qgen.codegen.modelgen import V1_ATTRS

    assert {n for n in dir(BaseModel) if not n.startswith(("_", "model_"))} == V1_ATTRS


def test_rendering_leaves_the_queues_schemas_untouched() -> None:
    """combine() rebuilds what it keeps (it copies only the top level of each schema)."""
    base = _model("Base", {"a": {"type": "string", "title": "A"}}, {"Inner": _schema()})
    base["properties"]["inner"] = {"$ref": "#/$defs/Inner"}
    queues = [_queue("one", base, copy.deepcopy(DECIMAL)), _queue("two", _schema(), None)]
    before = copy.deepcopy([(q.function.input_schema, q.function.output_schema) for q in queues])
    models.render_models(models.combine(queues), "# banner")
    assert [(q.function.input_schema, q.function.output_schema) for q in queues] == before


def test_union_members_are_split_outside_brackets_and_strings(load: Any) -> None:
    from qgen.codegen.pytypes import _top_level

    assert _top_level("a | list[b | c]") == ["a", "list[b | c]"]
    assert _top_level("Literal[']|x', \"|\"] | None") == ["Literal[']|x', \"|\"]", "None"]
    odd = _model(
        "Odd",
        {"v": {"anyOf": [{"enum": ["]|x", "a"], "type": "string"}, {"type": "null"}, DECIMAL]}},
    )
    mod = load(models.render_models(models.combine([_queue("odd", odd, None)]), "# b").text)
    assert mod.Odd(v="]|x").v == "]|x" and mod.Odd(v="2.5").v == decimal.Decimal("2.5")


class Shade(enum.Enum):
    DARK = "dark"


@pytest.mark.parametrize(
    "kind",
    [
        dict[Annotated[str, Field(pattern="^a")], int],
        dict[Annotated[str, Field(max_length=5)], int],
        dict[Annotated[str, Field(pattern="^a", max_length=3)], int],
        dict[uuid.UUID, int],
        dict[Shade, int],
    ],
    ids=["pattern", "max_length", "both", "uuid", "enum"],
)
def test_constrained_dict_keys_are_written_by_qgen_faithfully(load: Any, kind: Any) -> None:
    """pydantic's ``patternProperties`` / ``propertyNames`` become the model's key type (no
    datamodel-code-generator, whose not-required fields would be ``X | None = None``)."""
    schema = TypeAdapter(kind).json_schema()
    defs = schema.pop("$defs", None)
    holder = _model("Holder", {"v": schema, "w": schema}, defs)
    holder["required"] = ["v"]
    rendered = models.render_models(models.combine([_queue("h", holder, None)]), "# b")
    assert rendered.fallback == ()
    mod = load(rendered.text)
    got = TypeAdapter(mod.Holder).json_schema()["properties"]
    assert got["v"] == {**schema, "title": "V"}
    assert mod.Holder.model_validate({"v": {}}).w is pydantic.MISSING
