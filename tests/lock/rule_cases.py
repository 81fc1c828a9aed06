"""The rule table of docs/schema-lock.md as cases: an old and a new source of the same queue, the
one change `qgen check` must report, and an example value that shows the verdict is right
(breaking: valid under the side's "before" schema and invalid under its "after" one;
compatible: valid under both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    id: str
    old: str  # class definitions
    new: str  # the same, changed; "# <-" marks the line the diagnostic points at
    message: str  # after "queue 'q' <side>: "
    code: str  # QG4xx when breaking, "" when compatible
    example: Any  # an old job (input) / a new result (output)
    where: str = "mark"  # "mark", or "root": the data / return annotation
    old_type: str = ""  # the annotation, when not In / Out
    new_type: str = ""


IN = "class In(BaseModel):\n"
EUR_USD = "class Currency(enum.Enum):\n    EUR = 'EUR'\n    USD = 'USD'\n\n\n"
PETS = (
    "class Cat(BaseModel):\n    kind: Literal['cat']\n\n\n"
    "class Dog(BaseModel):\n    kind: Literal['dog']\n\n\n"
)

INPUT_RULES = [
    # -- breaking: old jobs fail validation ---------------------------------------------------
    Rule(
        "required-field-added",
        IN + "    a: int\n",
        IN + "    a: int\n    currency: str  # <-\n",
        "field 'currency' added as required",
        "QG401",
        {"a": 1},
    ),
    Rule(
        "default-removed",
        IN + "    currency: str = 'EUR'\n",
        IN + "    currency: str  # <-\n",
        "field 'currency' lost its default and became required",
        "QG401",
        {},
    ),
    Rule(
        "typeddict-not-required-became-required",
        "class In(TypedDict):\n    a: int\n    note: NotRequired[str]\n",
        "class In(TypedDict):\n    a: int\n    note: str  # <-\n",
        "field 'note' became required",
        "QG401",
        {"a": 1},
    ),
    Rule(
        "field-removed-extra-forbidden",
        "class In(BaseModel):\n    model_config = ConfigDict(extra='forbid')\n    a: int\n"
        "    b: int\n",
        "class In(BaseModel):  # <-\n    model_config = ConfigDict(extra='forbid')\n    a: int\n",
        "field 'b' removed",
        "QG402",
        {"a": 1, "b": 2},
    ),
    Rule(
        "type-changed",
        IN + "    a: int\n",
        IN + "    a: str  # <-\n",
        "field 'a': type changed from integer to string",
        "QG403",
        {"a": 1},
    ),
    Rule(
        "type-narrowed",
        IN + "    a: float\n",
        IN + "    a: int  # <-\n",
        "field 'a': type narrowed from number to integer",
        "QG403",
        {"a": 1.5},
    ),
    Rule(
        "union-member-removed",
        IN + "    a: int | str\n",
        IN + "    a: int  # <-\n",
        "field 'a': no longer accepts string",
        "QG403",
        {"a": "x"},
    ),
    Rule(
        "enum-member-removed",
        EUR_USD + IN + "    c: Currency\n",
        "class Currency(enum.Enum):  # <-\n    EUR = 'EUR'\n\n\n" + IN + "    c: Currency\n",
        "field 'c': value \"USD\" removed",
        "QG404",
        {"c": "USD"},
    ),
    Rule(
        "literal-value-removed",
        IN + "    kind: Literal['a', 'b']\n",
        IN + "    kind: Literal['a']  # <-\n",
        "field 'kind': value \"b\" removed",
        "QG404",
        {"kind": "b"},
    ),
    Rule(
        "str-restricted-to-literal",
        IN + "    kind: str\n",
        IN + "    kind: Literal['a', 'b']  # <-\n",
        'field \'kind\': restricted to values "a", "b"',
        "QG404",
        {"kind": "c"},
    ),
    Rule(
        "max-length-tightened",
        IN + "    s: str = Field(max_length=10)\n",
        IN + "    s: str = Field(max_length=5)  # <-\n",
        "field 's': maxLength tightened from 10 to 5",
        "QG405",
        {"s": "abcdefgh"},
    ),
    Rule(
        "ge-tightened",
        IN + "    n: Annotated[int, Field(ge=0)]\n",
        IN + "    n: Annotated[int, Field(ge=1)]  # <-\n",
        "field 'n': minimum tightened from >= 0 to >= 1",
        "QG405",
        {"n": 0},
    ),
    Rule(
        "lt-added",
        IN + "    n: float\n",
        IN + "    n: float = Field(lt=10)  # <-\n",
        "field 'n': maximum < 10 added",
        "QG405",
        {"n": 10},
    ),
    Rule(
        "pattern-added",
        IN + "    s: str\n",
        IN + "    s: str = Field(pattern='^[A-Z]+$')  # <-\n",
        "field 's': pattern \"^[A-Z]+$\" added",
        "QG405",
        {"s": "abc"},
    ),
    Rule(
        "pattern-changed",
        IN + "    s: str = Field(pattern='^[a-z]+$')\n",
        IN + "    s: str = Field(pattern='^[a-c]+$')  # <-\n",
        'field \'s\': pattern changed from "^[a-z]+$" to "^[a-c]+$"',
        "QG405",
        {"s": "xyz"},
    ),
    Rule(
        "min-items-added",
        IN + "    xs: list[int]\n",
        IN + "    xs: list[int] = Field(min_length=1)  # <-\n",
        "field 'xs': minItems 1 added",
        "QG405",
        {"xs": []},
    ),
    Rule(
        "multiple-of-tightened",
        IN + "    n: int = Field(multiple_of=2)\n",
        IN + "    n: int = Field(multiple_of=4)  # <-\n",
        "field 'n': multipleOf changed from 2 to 4",
        "QG405",
        {"n": 2},
    ),
    Rule(
        "format-added",
        IN + "    ref: str\n",
        IN + "    ref: uuid.UUID  # <-\n",
        "field 'ref': format \"uuid\" added",
        "QG405",
        {"ref": "not-a-uuid"},
    ),
    Rule(
        "nullability-removed",
        IN + "    s: str | None\n",
        IN + "    s: str  # <-\n",
        "field 's': no longer accepts null",
        "QG406",
        {"s": None},
    ),
    Rule(
        "nested-ref-field-added-as-required",
        "class Address(BaseModel):\n    street: str\n\n\n" + IN + "    address: Address\n",
        "class Address(BaseModel):\n    street: str\n    zip: str  # <-\n\n\n"
        + IN
        + "    address: Address\n",
        "field 'address.zip' added as required",
        "QG401",
        {"address": {"street": "Main"}},
    ),
    Rule(
        "recursive-ref-constraint",
        "class Node(BaseModel):\n    name: str\n    children: list[Node] = []\n\n\n"
        + IN
        + "    tree: Node\n",
        "class Node(BaseModel):\n    name: str = Field(max_length=3)  # <-\n"
        "    children: list[Node] = []\n\n\n" + IN + "    tree: Node\n",
        "field 'tree.name': maxLength 3 added",
        "QG405",
        {"tree": {"name": "a", "children": [{"name": "long name"}]}},
    ),
    Rule(
        "extra-keys-forbidden",
        "class In(BaseModel):\n    model_config = ConfigDict(extra='allow')\n    a: int\n",
        "class In(BaseModel):  # <-\n    model_config = ConfigDict(extra='forbid')\n    a: int\n",
        "extra keys allowed before, forbidden now",
        "QG407",
        {"a": 1, "note": "x"},
        where="mark",
    ),
    Rule(
        "dict-value-narrowed",
        IN + "    m: dict[str, int | str]\n",
        IN + "    m: dict[str, int]  # <-\n",
        "field 'm{}': no longer accepts string",
        "QG403",
        {"m": {"k": "v"}},
    ),
    Rule(
        "tuple-position-changed",
        IN + "    t: tuple[int, str]\n",
        IN + "    t: tuple[int, int]  # <-\n",
        "field 't[1]': type changed from string to integer",
        "QG403",
        {"t": [1, "x"]},
    ),
    Rule(
        "discriminated-member-removed",
        PETS + IN + "    pet: Cat | Dog = Field(discriminator='kind')\n",
        PETS + IN + "    pet: Cat = Field()  # <-\n",
        "field 'pet': no longer accepts Dog",
        "QG403",
        {"pet": {"kind": "dog"}},
    ),
    Rule(
        "root-type-changed",
        "",
        "",
        "type changed from integer to string",
        "QG403",
        1,
        where="root",
        old_type="int",
        new_type="str",
    ),
    Rule(
        "unknown-keyword-changed",
        IN + "    s: str\n",
        IN + "    s: str = Field(json_schema_extra={'not': {'const': 'x'}})  # <-\n",
        "field 's': keyword 'not' changed; qgen cannot tell whether that is compatible",
        "QG409",
        {"s": "x"},
    ),
    # -- compatible: old jobs still validate ----------------------------------------------------
    Rule(
        "optional-field-added",
        IN + "    a: int\n",
        IN + "    a: int\n    note: str = ''  # <-\n",
        "field 'note' added",
        "",
        {"a": 1},
    ),
    Rule(
        "enum-member-added",
        "class Currency(enum.Enum):\n    EUR = 'EUR'\n\n\n" + IN + "    c: Currency\n",
        "class Currency(enum.Enum):  # <-\n    EUR = 'EUR'\n    GBP = 'GBP'\n\n\n"
        + IN
        + "    c: Currency\n",
        "field 'c': value \"GBP\" added",
        "",
        {"c": "EUR"},
    ),
    Rule(
        "type-widened",
        IN + "    a: int\n",
        IN + "    a: float  # <-\n",
        "field 'a': type widened from integer to number",
        "",
        {"a": 1},
    ),
    Rule(
        "constraint-relaxed",
        IN + "    s: str = Field(max_length=5)\n",
        IN + "    s: str = Field(max_length=10)  # <-\n",
        "field 's': maxLength relaxed from 5 to 10",
        "",
        {"s": "abcde"},
    ),
    Rule(
        "nullability-added",
        IN + "    s: str\n",
        IN + "    s: str | None  # <-\n",
        "field 's': now accepts null",
        "",
        {"s": "x"},
    ),
    Rule(
        "field-removed-extra-ignored",
        IN + "    a: int\n    b: int\n",
        "class In(BaseModel):  # <-\n    a: int\n",
        "field 'b' removed",
        "",
        {"a": 1, "b": 2},
    ),
    Rule(
        "became-optional",
        IN + "    a: int\n",
        IN + "    a: int = 0  # <-\n",
        "field 'a' became optional",
        "",
        {"a": 1},
    ),
    Rule(
        "union-member-added",
        IN + "    a: int\n",
        IN + "    a: int | str  # <-\n",
        "field 'a': now accepts string",
        "",
        {"a": 1},
    ),
]

OUT = "class Out(BaseModel):\n"
OUT_TD = "class Out(TypedDict):\n"

OUTPUT_RULES = [
    # -- breaking: old callers cannot read new results ------------------------------------------
    Rule(
        "required-field-removed",
        OUT + "    ok: bool\n    tx: str\n",
        "class Out(BaseModel):  # <-\n    ok: bool\n",
        "field 'tx' removed",
        "QG402",
        {"ok": True},
    ),
    Rule(
        "became-optional-without-default",
        OUT_TD + "    tx: str\n",
        OUT_TD + "    tx: NotRequired[str]  # <-\n",
        "field 'tx' became optional",
        "QG402",
        {},
    ),
    Rule(
        "type-widened",
        OUT + "    n: int\n",
        OUT + "    n: float  # <-\n",
        "field 'n': type widened from integer to number",
        "QG403",
        {"n": 1.5},
    ),
    Rule(
        "type-changed",
        OUT + "    tx: str\n",
        OUT + "    tx: int  # <-\n",
        "field 'tx': type changed from string to integer",
        "QG403",
        {"tx": 1},
    ),
    Rule(
        "enum-member-added",
        "class Currency(enum.Enum):\n    EUR = 'EUR'\n\n\n" + OUT + "    c: Currency\n",
        "class Currency(enum.Enum):  # <-\n    EUR = 'EUR'\n    GBP = 'GBP'\n\n\n"
        + OUT
        + "    c: Currency\n",
        "field 'c': value \"GBP\" added",
        "QG404",
        {"c": "GBP"},
    ),
    Rule(
        "literal-value-added",
        OUT + "    kind: Literal['a']\n",
        OUT + "    kind: Literal['a', 'b']  # <-\n",
        "field 'kind': value \"b\" added",
        "QG404",
        {"kind": "b"},
    ),
    Rule(
        "max-length-relaxed",
        OUT + "    s: str = Field(max_length=5)\n",
        OUT + "    s: str = Field(max_length=10)  # <-\n",
        "field 's': maxLength relaxed from 5 to 10",
        "QG405",
        {"s": "abcdefgh"},
    ),
    Rule(
        "ge-removed",
        OUT + "    n: int = Field(ge=0)\n",
        OUT + "    n: int  # <-\n",
        "field 'n': minimum >= 0 removed",
        "QG405",
        {"n": -1},
    ),
    Rule(
        "nullability-added",
        OUT + "    s: str\n",
        OUT + "    s: str | None  # <-\n",
        "field 's': now accepts null",
        "QG406",
        {"s": None},
    ),
    Rule(
        "field-added-extra-forbidden",
        "class Out(BaseModel):\n    model_config = ConfigDict(extra='forbid')\n    x: int\n",
        "class Out(BaseModel):\n    model_config = ConfigDict(extra='forbid')\n    x: int\n"
        "    y: int = 0  # <-\n",
        "field 'y' added",
        "QG407",
        {"x": 1, "y": 2},
    ),
    Rule(
        "nested-ref-widened",
        "class Item(BaseModel):\n    price: int\n\n\n" + OUT + "    item: Item\n",
        "class Item(BaseModel):\n    price: float  # <-\n\n\n" + OUT + "    item: Item\n",
        "field 'item.price': type widened from integer to number",
        "QG403",
        {"item": {"price": 1.5}},
    ),
    Rule(
        "recursive-ref-nullable",
        "class Node(BaseModel):\n    name: str\n    children: list[Node] = []\n\n\n"
        + OUT
        + "    tree: Node\n",
        "class Node(BaseModel):\n    name: str | None  # <-\n    children: list[Node] = []\n\n\n"
        + OUT
        + "    tree: Node\n",
        "field 'tree.name': now accepts null",
        "QG406",
        {"tree": {"name": "a", "children": [{"name": None}]}},
    ),
    Rule(
        "root-type-widened",
        "",
        "",
        "type widened from integer to number",
        "QG403",
        1.5,
        where="root",
        old_type="int",
        new_type="float",
    ),
    # -- compatible: old callers still read new results ----------------------------------------
    Rule(
        "field-added",
        OUT + "    ok: bool\n",
        OUT + "    ok: bool\n    tx: str  # <-\n",
        "field 'tx' added as required",
        "",
        {"ok": True, "tx": "t"},
    ),
    Rule(
        "became-optional-with-default",
        OUT + "    tx: str\n",
        OUT + "    tx: str = ''  # <-\n",
        "field 'tx' became optional",
        "",
        {"tx": ""},
    ),
    Rule(
        "enum-member-removed",
        EUR_USD + OUT + "    c: Currency\n",
        "class Currency(enum.Enum):  # <-\n    EUR = 'EUR'\n\n\n" + OUT + "    c: Currency\n",
        "field 'c': value \"USD\" removed",
        "",
        {"c": "EUR"},
    ),
    Rule(
        "type-narrowed",
        OUT + "    n: float\n",
        OUT + "    n: int  # <-\n",
        "field 'n': type narrowed from number to integer",
        "",
        {"n": 1},
    ),
    Rule(
        "constraint-tightened",
        OUT + "    s: str = Field(max_length=10)\n",
        OUT + "    s: str = Field(max_length=5)  # <-\n",
        "field 's': maxLength tightened from 10 to 5",
        "",
        {"s": "abc"},
    ),
    Rule(
        "nullability-removed",
        OUT + "    s: str | None\n",
        OUT + "    s: str  # <-\n",
        "field 's': no longer accepts null",
        "",
        {"s": "x"},
    ),
]
