"""Hostile text from the user's source ends up as data in valid generated code."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

from qgen.codegen.literals import doc_literal, py_literal
from tests.golden.harness import build_case, out_dir

EVIL = "Evil \"\"\" triple ''' single \\ backslash {{ jinja }} {% if x %} block\nnew line é ☃ 中文"
DESCRIPTION = '"""; import os; os.system(\'echo pwned\') #'
MODEL_DOC = "Model doc with \"\"\" and ''' and \\ and {{ x }} {% y %}\nsecond line é ☃"
FIELD_DOC = "desc with \"\"\" ''' \\ {{ a }} {% b %}\nline two ✓"

PROBE = """
import inspect, json, typing
from hostile.generated import client, models
print(json.dumps({
    "async_doc": inspect.getdoc(client.AsyncQueueClient.evil),
    "sync_doc": inspect.getdoc(client.QueueClient.evil),
    "quote_doc": inspect.getdoc(client.QueueClient.quote_end),
    "model_doc": inspect.cleandoc(models.EvilInput.__doc__),
    "field_doc": models.EvilInput.model_fields["text"].description,
    "raw_default": models.EvilInput.model_fields["raw"].default,
    "raw_title": models.EvilInput.model_fields["raw"].title,
    "config": client.QUEUES["quote-end"].config,
    "kinds": list(typing.get_args(models.Kind.__value__)),
    "modes": list(typing.get_args(models.EvilInput.model_fields["mode"].annotation)),
    "alias": [f.alias for f in models.EvilInput.model_fields.values() if f.alias],
    "parsed": models.EvilInput.model_validate(
        {"text": "t", "weird key \\"'{{": 5, "kind": "\\\\n"}
    ).model_dump(mode="json", by_alias=True),
}))
"""


def test_hostile_text_is_data(tmp_path: Path) -> None:
    project = build_case("hostile", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=project, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    expected_doc = f"{EVIL} (Payload -> None).\n\n{DESCRIPTION}"
    assert got["async_doc"] == got["sync_doc"] == expected_doc
    assert got["quote_doc"].startswith('ends with a quote"')
    assert got["model_doc"] == inspect.cleandoc(MODEL_DOC)
    assert got["field_doc"] == FIELD_DOC
    assert got["raw_default"] == "\\\"'{{}}"
    assert got["raw_title"] == 'A "title"'
    assert got["config"]["name"] == "w\"'\\{{ }}"
    assert got["kinds"] == ['it\'s "odd" {{ }}', "\\n"]
    assert got["modes"] == ["a'b", 'c"d', "{{x}}", "\\"]
    assert got["alias"] == ["weird key \"'{{"]
    assert got["parsed"]["weird key \"'{{"] == 5 and got["parsed"]["kind"] == "\\n"
    manifest = json.loads((out_dir(project) / "manifest.json").read_text(encoding="utf-8"))
    evil = manifest["queues"]["evil"]
    assert evil["docs"]["summary"] == EVIL
    assert evil["docs"]["tags"] == ["t\"'\\{{", "\u2028sep"]
    assert evil["tags"] == ['"""', "'''", "{{x}}"]


def test_literal_filters_round_trip() -> None:
    import ast

    values = [EVIL, DESCRIPTION, "\u2028\x00\r\t", {"k\"'": [1, 2.5, None, True, "{{x}}"]}, ("a",)]
    for value in values:
        assert ast.literal_eval(py_literal(value)) == value
    texts = [EVIL, DESCRIPTION, "ends with backslash \\", "'", 'q"', "a \n b ", "x\u2028\x0c\r\ty"]
    for text in texts:
        assert inspect.cleandoc(ast.literal_eval(doc_literal(text, 4))) == inspect.cleandoc(
            text.strip()
        )
