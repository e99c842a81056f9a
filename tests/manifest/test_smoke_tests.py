"""What ``validate`` checks about smoke tests beyond their schema: references to the assistant's
tools, sequential repeats that can decide, and the Stack's grader settings."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from assistctl.errors import ManifestError
from assistctl.manifest import load_all

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


@pytest.fixture
def stack(tmp_path) -> Path:
    copy = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, copy)
    return copy


def smoke_test(stack: Path, body: str) -> None:
    head = "apiVersion: assistctl/v1\nkind: SmokeTest\nmetadata: {name: extra}\n"
    (stack / "tests" / "extra.yaml").write_text(head + textwrap.dedent(body))


def problems(stack: Path) -> str:
    with pytest.raises(ManifestError) as raised:
        load_all([stack])
    return raised.value.message


def test_tool_call_may_name_a_built_in_tool_the_assistant_has(stack):
    """The README allows `tool_call: file_search`; validate used to refuse it as an unknown
    function."""
    smoke_test(
        stack,
        """\
        spec:
          assistant: support-bot
          steps:
            - user: How do returns work?
              expect:
                - tool_call: file_search
                - any_of: [{tool_call: {name: file_search, count: 1}}, {contains: returns}]
        """,
    )
    _, tests = load_all([stack])
    assert "extra" in {t.name for t in tests}


def test_a_built_in_tool_the_assistant_lacks_is_refused(stack):
    smoke_test(
        stack,
        """\
        spec:
          assistant: support-bot
          steps:
            - user: Compute 2 + 2
              expect:
                - not: {tool_call: code_interpreter}
                - tool_call: get_ordr
        """,
    )
    message = problems(stack)
    assert (
        "extra.yaml:9: spec.steps[0].expect[0].not.tool_call: "
        "assistant 'support-bot' has no code_interpreter tool"
    ) in message
    assert (
        "spec.steps[0].expect[1].tool_call: assistant 'support-bot' has no function 'get_ordr'"
        in (message)
    )


@pytest.mark.parametrize(
    ("repeat", "threshold", "expected"),
    [
        (
            "{min: 3, max: 10}",
            0.8,
            "extra.yaml:7: spec.repeat.max: max 10 can never reach PASS at pass_threshold 0.8 and "
            "confidence 0.95: even with every attempt passing it needs max ≥ 17",
        ),
        ("{min: 12, max: 10}", 0.5, "extra.yaml:7: spec.repeat.min: must not exceed max (10)"),
        (
            "{min: 0, max: 10}",
            0.5,
            "extra.yaml:7: spec.repeat.min: 0 is out of range: must be >= 1",
        ),
        ("{min: 3}", 0.5, "extra.yaml:7: spec.repeat: 'max' is required"),
        ("2.5", 0.5, "extra.yaml:7: spec.repeat: 2.5 is not valid here"),
    ],
)
def test_a_repeat_that_cannot_decide_is_refused_where_it_is_written(
    stack, repeat, threshold, expected
):
    smoke_test(
        stack,
        f"""\
        spec:
          assistant: support-bot
          pass_threshold: {threshold}
          repeat: {repeat}
          steps:
            - user: Hello
        """,
    )
    assert expected in problems(stack)


def test_sequential_repeats_that_can_decide_load(stack):
    smoke_test(
        stack,
        """\
        spec:
          assistant: support-bot
          pass_threshold: 0.5
          repeat: {min: 1, max: 6}
          steps:
            - user: Hello
        """,
    )
    _, tests = load_all([stack])
    extra = next(t for t in tests if t.name == "extra")
    assert extra.spec["repeat"] == {"min": 1, "max": 6}


def test_the_stacks_grader_is_validated_and_kept(stack):
    with (stack / "stack.yaml").open("a") as handle:
        handle.write(
            "spec:\n  grader: {account: 'https://models.example.com/v1', model: judge, "
            "api: responses, api_key_env: TEAM_KEY, temperature: null}\n"
        )
    desired, _ = load_all([stack])
    assert desired.grader == {
        "account": "https://models.example.com/v1",
        "model": "judge",
        "api": "responses",
        "api_key_env": "TEAM_KEY",
        "temperature": None,
    }
    (stack / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: support}\n"
        "spec:\n  grader: {account: 'local', api: completions, key: sk-1}\n"
    )
    message = problems(stack)
    assert "stack.yaml:5: spec.grader.account: takes http(s)://HOST/v1 or openai" in message
    assert "spec.grader.api: 'completions' is not one of: chat, responses" in message
    assert "spec.grader.key: unknown field 'key'" in message


def test_the_readmes_example_test_is_valid(stack):
    """The field-by-field example in the README loads against the quickstart it describes."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### A test, field by field", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (stack / "tests" / "readme.yaml").write_text(example.replace("order-status}", "example}"))
    _, tests = load_all([stack])
    cases = [t for t in tests if t.name.startswith("example[")]
    assert [t.name for t in cases] == [
        "example[order_id=123,status=shipped]",
        "example[order_id=777,status=lost in transit]",
    ]
    assert cases[1].spec["steps"][0]["user"] == "Where is my order 777?"
