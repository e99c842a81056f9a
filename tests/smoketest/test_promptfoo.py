"""promptfoo interop: how each expectation maps to a promptfoo assertion (or why it cannot), and
the exported configuration run by the real promptfoo CLI from npm against the local account,
agreeing with ``assistctl test`` on every test.

The promptfoo run needs node and npx (and the npm registry the first time). Without them it is
skipped with a loud reason, unless ``ASSISTCTL_REQUIRE_NODE=1`` (set by ``.ci/run``) makes the
skip a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assistctl.cli import cli
from assistctl.errors import SmokeTestError
from assistctl.grading import GraderSettings
from assistctl.model import DesiredSmokeTest, Location
from assistctl.smoketest import promptfoo
from assistctl.smoketest.promptfoo import REPLY, Unmappable, assertion
from tests.smoketest.fake_models import FakeModels, serve

PROMPTFOO = "promptfoo@0.121.20"  # the newest release that still runs on Node.js 20
QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
GRADER = GraderSettings(account="http://127.0.0.1:9/v1", model="judge-1", embeddings_model="e-1")
NO_GRADER = GraderSettings()
RAW_LITERAL = "{% raw %}{{ literal }}{% endraw %}"


@pytest.mark.parametrize(
    ("expectation", "expected"),
    [
        ({"contains": "shipped"}, {"type": "contains", "value": "shipped", "transform": REPLY}),
        ({"icontains": "Shipped"}, {"type": "icontains", "value": "Shipped", "transform": REPLY}),
        (
            {"not_contains": "refund"},
            {"type": "not-icontains", "value": "refund", "transform": REPLY},
        ),
        ({"regex": r"order \d+"}, {"type": "regex", "value": r"order \d+", "transform": REPLY}),
        ({"max_latency_s": 2.5}, {"type": "latency", "threshold": 2500}),
        ({"rubric": "Polite."}, {"type": "llm-rubric", "value": "Polite.", "transform": REPLY}),
        (
            {"similar": {"to": "Thirty days."}},
            {"type": "similar", "value": "Thirty days.", "threshold": 0.8, "transform": REPLY},
        ),
        (
            {"contains": "{{ literal }}"},
            {"type": "contains", "value": "{% raw %}{{ literal }}{% endraw %}", "transform": REPLY},
        ),
    ],
)
def test_expectations_promptfoo_has(expectation, expected):
    assert assertion(expectation, GRADER) == expected


def test_equals_and_json_schema_read_the_reply_as_assistctl_does():
    equals = assertion({"equals": "  Yes. "}, GRADER)
    assert equals["value"] == "Yes." and equals["transform"] == f"({REPLY}).trim()"
    schema = assertion({"json_schema": {"type": "object"}}, GRADER)
    assert schema["type"] == "is-json" and schema["value"] == {"type": "object"}
    assert "```" in schema["transform"]  # one fenced block is unwrapped, as in assistctl


def test_tool_calls_are_checked_in_javascript_over_the_providers_call_blocks():
    called = assertion(
        {"tool_call": {"name": "get_order", "arguments": {"id": "1"}, "count": 2}}, GRADER
    )
    assert called["type"] == "javascript"
    code = called["value"]
    assert 'c.name === "get_order" && subset({"id": "1"}, c.arguments)' in code
    assert code.endswith("return matching.length === 2;")
    assert assertion({"no_tool_call": True}, GRADER)["value"].endswith("return calls.length === 0;")
    tokens = assertion({"max_tokens": 50}, GRADER)["value"]
    assert tokens == "(context.providerResponse?.tokenUsage?.total ?? Infinity) <= 50"


def test_not_negates_a_single_assertion():
    assert assertion({"not": {"contains": "x"}}, GRADER)["type"] == "not-contains"
    assert assertion({"not": {"not_contains": "x"}}, GRADER)["type"] == "icontains"
    negated_calls = assertion({"not": {"tool_call": "refund"}}, GRADER)["value"]
    assert negated_calls.endswith("\nreturn !(matching.length > 0);")
    tokens = assertion({"not": {"max_tokens": 5}}, GRADER)["value"]
    assert tokens == "!((context.providerResponse?.tokenUsage?.total ?? Infinity) <= 5)"


def test_combinators_become_one_assert_set():
    any_of = assertion(
        {"any_of": [{"contains": "a"}, {"contains": "b"}, {"tool_call": "f"}]}, GRADER
    )
    assert any_of["type"] == "assert-set" and any_of["threshold"] == pytest.approx(1 / 3)
    assert [a["type"] for a in any_of["assert"]] == ["contains", "contains", "javascript"]
    all_of = assertion({"all_of": [{"rubric": "x"}, {"status": "completed"}]}, GRADER)
    assert all_of == {"type": "assert-set", "assert": [assertion({"rubric": "x"}, GRADER)]}


@pytest.mark.parametrize(
    ("expectation", "reason"),
    [
        ({"cites": "docs/a.md"}, "leaves file citations out"),
        ({"status": "requires_action"}, "turns a run that does not complete into an error"),
        ({"regex": r"(?P<n>\d+)"}, "Python-only syntax"),
        ({"regex": r"\Aorder"}, "Python-only syntax"),
        ({"not": {"any_of": [{"contains": "a"}]}}, "negates single assertions only"),
        ({"any_of": [{"all_of": [{"contains": "a"}]}]}, "cannot hold another one"),
        ({"any_of": [{"contains": "a"}, {"rubric": "b"}]}, "cannot be exact"),
    ],
)
def test_what_promptfoo_cannot_express_says_why(expectation, reason):
    with pytest.raises(Unmappable, match=reason):
        assertion(expectation, GRADER)
    assert assertion({"status": "completed"}, GRADER) is None  # promptfoo's own check


def test_graded_checks_need_a_grader_account():
    with pytest.raises(Unmappable, match="no grader account"):
        assertion({"rubric": "x"}, NO_GRADER)


def smoke(name: str, steps: list, **spec) -> DesiredSmokeTest:
    return DesiredSmokeTest(
        name, "bot", {"assistant": "bot", "steps": steps, **spec}, Location(f"t/{name}.yaml", 1)
    )


def test_an_export_lists_what_it_leaves_out_and_shares_providers():
    tests = [
        smoke("one", [{"user": "a", "expect": [{"contains": "x"}, {"cites": "a.md"}]}]),
        smoke("two", [{"user": "b", "expect": [{"rubric": "Polite."}]}], repeat=5),
        smoke("many", [{"user": "a"}, {"user": "b"}]),
        smoke("json", [{"user": '{"a": 1}', "additional_instructions": "Be brief."}]),
        smoke(
            "called",
            [{"user": "c", "expect": []}],
            functions={"f": [{"when": {"id": 1}, "output": {"ok": True}}, {"output": "plain"}]},
        ),
    ]
    ids = {t.name: "asst_1" for t in tests}
    exported = promptfoo.export(tests, ids, base_url="http://h:1/v1", grader=GRADER, stack="s/e")
    config = exported.config
    assert [t["description"] for t in config["tests"]] == ["one", "two", "json", "called"]
    assert [p["label"] for p in config["providers"]] == ["bot", "bot-2"]
    assert [t["providers"] for t in config["tests"]] == [["bot"], ["bot"], ["bot"], ["bot-2"]]
    callback = config["providers"][1]["config"]["functionToolCallbacks"]["f"]
    assert callback.startswith("(args) => {") and '"output": "{\\"ok\\": true}"' in callback
    assert config["providers"][0]["config"] == {
        "apiBaseUrl": "http://h:1/v1",
        "apiKeyEnvar": "ASSISTCTL_API_KEY",
    }
    graders = config["defaultTest"]["options"]["provider"]
    assert graders["text"]["id"] == "openai:chat:judge-1"
    assert graders["embedding"]["id"] == "openai:embeddings:e-1"
    assert graders["text"]["config"]["apiKeyEnvar"] == "ASSISTCTL_GRADER_API_KEY"
    assert [str(u) for u in exported.unmapped] == [
        'one: step 1, expect[1] cites: "a.md" — promptfoo\'s assistant provider leaves file '
        "citations out of its output",
        "two: repeat 5 at pass_threshold 1 — promptfoo runs each test once and has no pass-rate "
        "verdict (`promptfoo eval --repeat N` repeats without one)",
        "many: the whole test (2 steps) — promptfoo's assistant provider starts a new thread for "
        "every prompt, so only one-step conversations can be exported",
        "json: step 1 additional_instructions — the assistant provider can only replace the "
        "instructions, not add to them",
        "json: step 1 user message — promptfoo reads a prompt that looks like JSON as a list of "
        "chat messages",
    ]
    text = exported.text
    assert text.startswith("# promptfoo configuration of the smoke tests of stack s/e")
    assert "#   many: the whole test (2 steps)" in text
    assert yaml.safe_load(text)["prompts"] == ["{{message}}"]
    assert exported.headline("p.yaml") == (
        "Wrote p.yaml: 4 tests of stack s/e for promptfoo; "
        "5 things not exported (listed in the file)."
    )


def test_the_account_promptfoo_calls():
    assert promptfoo.account_base_url("url", "https://a.example/v1") == "https://a.example/v1"
    assert promptfoo.account_base_url("openai", "openai", {}) == "https://api.openai.com/v1"
    assert (
        promptfoo.account_base_url("openai", "openai", {"OPENAI_BASE_URL": "https://x/v1"})
        == "https://x/v1"
    )
    with pytest.raises(SmokeTestError, match="stops with this command"):
        promptfoo.account_base_url("local", "local:.assistctl")


# --- the real promptfoo ----------------------------------------------------------------------

EXTRA_TESTS = """\
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: order-kinds}
spec:
  assistant: support-bot
  matrix: [{order_id: "123"}, {order_id: "777"}]
  functions:
    get_order:
      - when: {order_id: "123"}
        output: {status: shipped, eta: "2026-12-01"}
      - when: {order_id: "777"}
        output: lost in transit
  steps:
    - user: Where is my order {{order_id}}?
      expect:
        - any_of: [{contains: shipped}, {icontains: LOST}]
        - not: {contains: refund}
        - not_contains: cancelled
        - not: {tool_call: {name: get_order, arguments: {order_id: "999"}}}
        - tool_call: {name: get_order, arguments: {order_id: "{{order_id}}"}, count: 1}
        - no_tool_call: file_search
        - all_of: [{regex: "get_order returned"}, {max_tokens: 1000}]
        - max_latency_s: 30
        - equals: "Here is what get_order returned: status: shipped, eta: 2026-12-01."
---
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: returns-graded}
spec:
  assistant: support-bot
  steps:
    - user: How many days do I have to return an item for a refund?
      expect:
        - rubric: 'Says the customer has "30 days" to return an item.'
        - similar: {to: "You can return any item within 30 days of delivery.", threshold: 0.6}
        - tool_call: file_search
---
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: warranty-wrong}
spec:
  assistant: support-bot
  steps:
    - user: How long is the warranty on manufacturing defects?
      expect:
        - rubric: 'Says the warranty lasts "3 years".'
"""


def node_or_skip() -> str:
    npx = shutil.which("npx")
    if npx is None:
        reason = (
            "NODE MISSING: npx is not on PATH, so the exported promptfoo configuration was NOT "
            "run by promptfoo (CI sets ASSISTCTL_REQUIRE_NODE=1 to make this a failure)"
        )
        if os.environ.get("ASSISTCTL_REQUIRE_NODE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return npx


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.timeout(900)  # the first run fetches promptfoo from npm
def test_promptfoo_runs_the_export_and_agrees_with_assistctl(local_server, tmp_path):
    npx = node_or_skip()
    stack = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, stack)
    (stack / "tests" / "extra.yaml").write_text(EXTRA_TESTS)
    account = local_server.base_url
    assert invoke("--account", account, "apply", str(stack), "--yes").exit_code == 0
    config, report = tmp_path / "promptfooconfig.yaml", tmp_path / "assistctl.json"
    with serve(FakeModels()) as models:
        ours = invoke(
            "--account", account, "test", str(stack), "--grader-account", models.url,
            "--json", str(report),
        )  # fmt: skip
        assert ours.exit_code == 2, ours.output  # two tests are meant to fail
        exported = invoke(
            "--account", account, "test", str(stack), "--grader-account", models.url,
            "--export", "promptfoo", "-o", str(config),
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        environment = {
            **os.environ,
            "ASSISTCTL_API_KEY": local_server.api_key or "local",
            "ASSISTCTL_GRADER_API_KEY": "fake",
            "PROMPTFOO_CONFIG_DIR": str(tmp_path / "promptfoo-home"),
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "NO_COLOR": "1",
        }
        results = tmp_path / "results.json"
        command = [npx, "-y", PROMPTFOO, "eval", "-c", str(config), "--no-cache"]
        command += ["-o", str(results), "--no-progress-bar"]
        ran = subprocess.run(
            command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=880
        )
        graded = {r["path"] for r in models.requests}
    assert ran.returncode in (0, 100), ran.stdout[-3000:] + ran.stderr[-3000:]  # 100: failures
    rows = json.loads(results.read_text())["results"]["results"]
    theirs = {row["testCase"]["description"]: row["success"] for row in rows}
    reasons = {row["testCase"]["description"]: row["gradingResult"]["reason"] for row in rows}
    assert (
        reasons["warranty-wrong"] == 'the reply does not mention "3 years"'
    )  # graded, not errored
    assert "to equal" in reasons["order-kinds[order_id=777]"]
    mine = {t["name"]: t["outcome"] == "passed" for t in json.loads(report.read_text())["tests"]}
    assert theirs == mine
    assert sorted(name for name, passed in mine.items() if not passed) == [
        "order-kinds[order_id=777]",  # equals expects the 123 answer
        "warranty-wrong",
    ]
    assert {"/v1/chat/completions", "/v1/embeddings"} <= graded  # promptfoo graded through ours
