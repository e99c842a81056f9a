"""Variables and matrices: one SmokeTest document expands into cases, each with its
placeholders filled and its own name; mistakes are located in the file."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from assistctl.errors import ManifestError
from assistctl.manifest import load_all
from assistctl.smoketest import variables
from assistctl.smoketest.runner import select

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def test_a_mapping_matrix_is_every_combination_named_after_its_values():
    spec = {
        "vars": {"greeting": "Hi"},
        "matrix": {"order_id": ["123", "777"], "lang": ["en", "fr"]},
    }
    cases = variables.cases("order", spec)
    assert [c.name for c in cases] == [
        "order[order_id=123,lang=en]",
        "order[order_id=123,lang=fr]",
        "order[order_id=777,lang=en]",
        "order[order_id=777,lang=fr]",
    ]
    assert cases[1].variables == {"greeting": "Hi", "order_id": "123", "lang": "fr"}


def test_a_list_matrix_is_one_case_per_row_and_rows_override_vars():
    spec = {"vars": {"status": "unknown"}, "matrix": [{"id": 1, "status": "shipped"}, {"id": 2}]}
    cases = variables.cases("t", spec)
    assert [(c.name, dict(c.variables)) for c in cases] == [
        ("t[id=1,status=shipped]", {"status": "shipped", "id": 1}),
        ("t[id=2]", {"status": "unknown", "id": 2}),
    ]
    assert variables.cases("t", {"vars": {"a": 1}}) == [variables.Case("t", {"a": 1})]


def test_fill_substitutes_text_keeps_types_for_whole_values_and_leaves_keys_alone():
    spec = {
        "repeat": 2,
        "matrix": [{"id": "123"}],
        "steps": [
            {
                "user": "Where is order {{ id }} ({{qty}} items, gift: {{gift}})?",
                "expect": [
                    {"tool_call": {"name": "get", "arguments": {"id": "{{id}}", "n": "{{qty}}"}}}
                ],
            }
        ],
        "functions": {"get": [{"when": {"{{id}}": "{{id}}"}, "output": {"items": "{{tags}}"}}]},
    }
    case = variables.Case("t[id=123]", {"id": "123", "qty": 3, "gift": True, "tags": ["a", "b"]})
    filled = variables.fill(spec, case)
    assert filled["steps"][0]["user"] == "Where is order 123 (3 items, gift: true)?"
    assert filled["steps"][0]["expect"][0]["tool_call"]["arguments"] == {"id": "123", "n": 3}
    assert filled["functions"]["get"][0] == {
        "when": {"{{id}}": "123"},
        "output": {"items": ["a", "b"]},
    }
    assert filled["vars"] == dict(case.variables) and "matrix" not in filled
    assert filled["repeat"] == 2 and spec["steps"][0]["user"].startswith("Where is order {{ id }}")


def test_only_identifiers_are_placeholders():
    case = variables.Case("t", {"a": "x"})
    assert (
        variables.fill({"steps": [{"user": "{{a}} {{ a b }} {{}} {a}"}]}, case)["steps"][0]["user"]
        == "x {{ a b }} {{}} {a}"
    )


def test_undefined_placeholders_are_found_with_their_path():
    spec = {"steps": [{"user": "{{a}} and {{b}}", "expect": [{"any_of": [{"contains": "{{c}}"}]}]}]}
    missing = variables.undefined(spec, {"a": 1})
    assert [(m.path, m.name) for m in missing] == [
        (("steps", 0, "user"), "b"),
        (("steps", 0, "expect", 0, "any_of", 0, "contains"), "c"),
    ]


def test_long_values_are_cut_in_case_names():
    (case,) = variables.cases("t", {"matrix": [{"q": "x" * 60}]})
    assert case.name == "t[q=" + "x" * 39 + "…]"


MATRIX_TEST = """\
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: order-matrix}
spec:
  assistant: support-bot
  vars: {eta: "2026-12-01"}
  matrix:
    - {order_id: "123", status: shipped}
    - {order_id: "777", status: lost in transit}
  functions:
    get_order:
      - when: {order_id: "{{order_id}}"}
        output: {status: "{{status}}", eta: "{{eta}}"}
  steps:
    - user: Where is my order {{order_id}}?
      expect:
        - tool_call: {name: get_order, arguments: {order_id: "{{order_id}}"}}
        - contains: "{{status}}"
"""


@pytest.fixture
def stack(tmp_path) -> Path:
    copy = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, copy)
    return copy


def test_a_matrix_document_loads_as_one_test_per_case(stack):
    (stack / "tests" / "matrix.yaml").write_text(MATRIX_TEST)
    _, tests = load_all([stack])
    cases = [t for t in tests if t.name.startswith("order-matrix")]
    assert [t.name for t in cases] == [
        "order-matrix[order_id=123,status=shipped]",
        "order-matrix[order_id=777,status=lost in transit]",
    ]
    lost = cases[1]
    assert lost.spec["steps"][0]["user"] == "Where is my order 777?"
    assert lost.spec["functions"]["get_order"][0] == {
        "when": {"order_id": "777"},
        "output": {"status": "lost in transit", "eta": "2026-12-01"},
    }
    assert lost.spec["vars"] == {
        "eta": "2026-12-01",
        "order_id": "777",
        "status": "lost in transit",
    }
    assert lost.location.line == 1 and lost.location.file.endswith("tests/matrix.yaml")
    selected, deselected = select(tests, "order-matrix[order_id=777,status=lost in transit]")
    assert [t.name for t in selected] == [lost.name] and len(deselected) == len(tests) - 1
    assert [t.name for t in select(tests, "order-matrix")[0]] == [c.name for c in cases]


def problems_of(stack: Path, text: str) -> str:
    (stack / "tests" / "bad.yaml").write_text(textwrap.dedent(text))
    with pytest.raises(ManifestError) as raised:
        load_all([stack])
    return raised.value.message


def test_an_undefined_variable_is_located_once_however_many_cases(stack):
    message = problems_of(
        stack,
        MATRIX_TEST.replace("Where is my order {{order_id}}?", "Order {{order_number}}?"),
    )
    assert message.count("undefined variable 'order_number'") == 1
    assert "tests/bad.yaml:15: spec.steps[0].user: undefined variable 'order_number'" in message


def test_a_case_that_breaks_an_expectation_is_located(stack):
    message = problems_of(
        stack,
        MATRIX_TEST.replace('contains: "{{status}}"', 'regex: "{{status}}"').replace(
            "status: shipped", 'status: "(unclosed"'
        ),
    )
    assert (
        "tests/bad.yaml:18: spec.steps[0].expect[1].regex: holds an invalid regular expression"
        in message
    )


def test_cases_with_the_same_name_are_refused(stack):
    message = problems_of(
        stack,
        MATRIX_TEST.replace(
            '{order_id: "777", status: lost in transit}', '{order_id: "123", status: shipped}'
        ),
    )
    assert (
        "spec.matrix: two cases are both named 'order-matrix[order_id=123,status=shipped]'"
        in message
    )


def test_a_matrix_of_the_wrong_shape_is_a_schema_problem(stack):
    message = problems_of(
        stack,
        MATRIX_TEST.replace('    - {order_id: "777", status: lost in transit}\n', "    - 5\n"),
    )
    assert "tests/bad.yaml:9: spec.matrix[1]: must be a mapping, not an integer" in message
