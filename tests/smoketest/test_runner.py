"""The smoke-test runner against the local account over real HTTP: conversations, canned
function outputs, every expectation kind failing usefully, retries, parallelism and cleanup.

One deployed quickstart serves the whole module (tests only add threads, and delete them);
tests that inject faults clear them again.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import openai
import pytest

from assistctl import manifest, model, retry
from assistctl.backends.assistants import AssistantsBackend
from assistctl.conversation import Citation, Interrupted
from assistctl.errors import SmokeTestError
from assistctl.kinds.assistant import AssistantSpec
from assistctl.kinds.vector_store import VectorStoreSpec
from assistctl.local import LocalConfig, start_in_process
from assistctl.model import DesiredSmokeTest, Location
from assistctl.smoketest import runner as smoketest
from assistctl.smoketest.results import SuiteResult
from tests import builders

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
FAST_RETRIES = retry.RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, deadline_s=10)


def deploy(client: openai.OpenAI, desired: model.Desired) -> None:
    """What ``apply`` leaves behind, made directly through the SDK: owned uploads, vector stores
    whose files carry identity attributes, assistants with ownership metadata."""
    owner = desired.owner
    store_ids = {}
    for store in desired.of_kind("vector_store"):
        assert isinstance(store.spec, VectorStoreSpec)
        created = client.vector_stores.create(
            name=store.spec.name,
            metadata={model.STACK_KEY: owner, model.NAME_KEY: store.name},
        )
        for file in store.files:
            name = model.upload_filename(owner, file.sha256, file.basename)
            upload = client.files.create(
                file=(name, file.source.read_bytes()), purpose="assistants"
            )
            client.vector_stores.files.create(
                created.id,
                file_id=upload.id,
                attributes={model.PATH_ATTRIBUTE: file.path, model.SHA256_ATTRIBUTE: file.sha256},
            )
        store_ids[store.name] = created.id
    for assistant in desired.of_kind("assistant"):
        assert isinstance(assistant.spec, AssistantSpec)
        view = assistant.spec.view()
        stores = view["tool_resources"].get("file_search", {}).get("vector_stores", [])
        client.beta.assistants.create(
            model=view["model"],
            name=view["name"],
            instructions=view["instructions"],
            tools=view["tools"],
            tool_resources={"file_search": {"vector_store_ids": [store_ids[s] for s in stores]}},
            metadata={model.STACK_KEY: owner, model.NAME_KEY: assistant.name},
        )


class Account:
    def __init__(self, server, client: openai.OpenAI, desired: model.Desired) -> None:
        self.server = server
        self.client = client
        self.desired = desired

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server.root_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def requests(self) -> dict[str, int]:
        return self.admin("GET", "/_admin/stats")["requests"]

    @property
    def backend(self) -> AssistantsBackend:
        return AssistantsBackend(self.client, policy=FAST_RETRIES)

    def run(self, *tests: DesiredSmokeTest, **options) -> SuiteResult:
        return smoketest.run_suite(self.backend, self.desired, tests, **options)


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    server = start_in_process(tmp_path_factory.mktemp("account"), config=LocalConfig(admin=True))
    client = openai.OpenAI(api_key="test-key", base_url=server.base_url, max_retries=0)
    desired = manifest.load([QUICKSTART])
    deploy(client, desired)
    yield Account(server, client, desired)
    server.stop()


@pytest.fixture
def clean(account):
    account.admin("DELETE", "/_admin/faults")
    account.admin("POST", "/_admin/stats/reset")
    yield account
    account.admin("DELETE", "/_admin/faults")


def smoke(name: str, steps: list, **spec) -> DesiredSmokeTest:
    spec = {"assistant": "support-bot", "steps": steps, **spec}
    return DesiredSmokeTest(name, "support-bot", spec, Location(f"tests/{name}.yaml", 2))


ORDER_FUNCTIONS = {
    "get_order": [
        {"when": {"order_id": "123"}, "output": {"status": "shipped", "eta": "2026-12-01"}},
        {"when": {"order_id": "777"}, "output": "lost in transit"},
    ]
}


def threads_balanced(account: Account) -> tuple[int, int]:
    requests = account.requests()
    return requests.get("POST /v1/threads", 0), requests.get("DELETE /v1/threads/{thread_id}", 0)


def test_quickstart_suite_passes_and_cleans_up(clean):
    tests = manifest.load_smoke_tests([QUICKSTART])
    seen = []
    result = clean.run(*tests, on_attempt=lambda test, attempt: seen.append(test.name))
    assert [t.outcome for t in result.tests] == ["passed"] * len(tests), [
        a.first_problem for t in result.tests for a in t.attempts
    ]
    assert result.exit_code == 0 and set(seen) == {t.name for t in tests}
    created, deleted = threads_balanced(clean)
    assert created == deleted == len(seen)
    order_status = next(t for t in result.tests if t.name == "order-status")
    assert (order_status.verdict.value, len(order_status.counted)) == ("pass", 17)
    order = next(t for t in result.tests if t.name == "order-status").attempts[0].steps[0]
    assert order.reply.tool_calls[0].output == '{"status": "shipped", "eta": "2026-12-01"}'
    returns = next(t for t in result.tests if t.name == "returns-policy").attempts[0].steps[0]
    assert returns.reply.citations[0].path == "docs/returns.md"
    assert returns.reply.citations[0].filename == "returns.md"
    assert returns.reply.usage["total_tokens"] > 0
    with pytest.raises(openai.NotFoundError):
        clean.client.beta.threads.retrieve(result.tests[0].attempts[0].thread_id)


def test_every_expectation_kind_fails_with_what_came_back(clean):
    expect = [
        {"contains": "delivered"},
        {"icontains": "DELIVERED"},
        {"not_contains": "shipped"},
        {"equals": "Shipped."},
        {"regex": r"^\d+$"},
        {"json_schema": {"type": "object"}},
        {"tool_call": {"name": "get_order", "arguments": {"order_id": "124"}}},
        {"no_tool_call": "get_order"},
        {"cites": "docs/warranty.md"},
        {"status": "failed"},
        {"max_latency_s": 0.000001},
        {"max_tokens": 1},
    ]
    test = smoke(
        "everything-fails",
        [{"user": "Where is my order 123?", "expect": expect}],
        functions=ORDER_FUNCTIONS,
    )
    result = clean.run(test)
    assert result.exit_code == 2
    step = result.tests[0].attempts[0].steps[0]
    assert [v.kind for v in step.checks] == [next(iter(e)) for e in expect]
    assert not any(v.passed for v in step.checks)
    reply = "Here is what get_order returned: status: shipped, eta: 2026-12-01."
    messages = {v.kind: v.message for v in step.checks}
    for kind in ("contains", "icontains", "equals", "regex", "json_schema", "not_contains"):
        assert json.dumps(reply) in messages[kind], messages[kind]
    assert messages["tool_call"].endswith('got get_order({"order_id": "123"})')
    assert messages["no_tool_call"].endswith('got get_order({"order_id": "123"})')
    assert messages["cites"].startswith("expected a file_citation to docs/warranty.md; got no")
    assert messages["status"] == "expected the run to end failed; got completed"
    assert messages["max_latency_s"].startswith("expected a reply within 1e-06s; took ")
    assert "expected at most 1 tokens; used " in messages["max_tokens"]


def test_canned_outputs_follow_when_and_strings_pass_verbatim(clean):
    test = smoke(
        "lost-order",
        [
            {"user": "Where is my order 777?", "expect": [{"contains": "lost in transit"}]},
            {
                "user": "And order 123?",
                "additional_instructions": "Be brief.",
                "expect": [
                    {"tool_call": {"name": "get_order", "count": 1}},
                    {"contains": "shipped"},
                ],
            },
        ],
        functions=ORDER_FUNCTIONS,
    )
    result = clean.run(test)
    attempt = result.tests[0].attempts[0]
    assert attempt.outcome == "passed", attempt.first_problem
    assert [s.reply.tool_calls[0].arguments for s in attempt.steps] == [
        {"order_id": "777"},
        {"order_id": "123"},
    ]


def test_unanswerable_calls_fail_the_step_show_the_call_and_stop(clean):
    no_match = smoke(
        "no-match",
        [{"user": "Where is my order 9?"}, {"user": "never sent"}],
        functions=ORDER_FUNCTIONS,
    )
    no_entry = smoke("no-entry", [{"user": "Where is my order 9?"}])
    result = clean.run(no_match, no_entry)
    first, second = (t.attempts[0] for t in result.tests)
    assert first.steps[0].failure == (
        'the run called get_order({"order_id": "9"}): no canned output of get_order matches '
        "these arguments; cancelled the run"
    )
    assert len(first.steps) == 1 and first.total_steps == 2 and first.outcome == "failed"
    assert first.steps[0].reply.status in ("cancelled", "cancelling")
    assert "spec.functions has no entry for get_order (canned: none)" in second.steps[0].failure
    assert threads_balanced(clean) == (2, 2)


def test_failed_runs_and_expected_requires_action(clean):
    failing = smoke("fails", [{"user": "FAIL_RUN please"}])
    expected = smoke(
        "expects-failure", [{"user": "FAIL_RUN please", "expect": [{"status": "failed"}]}]
    )
    pending = smoke(
        "stops-at-call",
        [
            {
                "user": "Where is my order 55?",
                "expect": [
                    {"status": "requires_action"},
                    {"tool_call": {"name": "get_order", "arguments": {"order_id": "55"}}},
                ],
            },
            {
                "user": "How many days do I have to return an item?",
                "expect": [{"cites": "returns.md"}],
            },
        ],
    )
    result = clean.run(failing, expected, pending)
    assert [t.outcome for t in result.tests] == ["failed", "passed", "passed"], [
        a.first_problem for t in result.tests for a in t.attempts
    ]
    verdict = result.tests[0].attempts[0].steps[0].checks[0]
    assert verdict.implicit and verdict.message.startswith(
        "expected the run to end completed; got failed (server_error: "
    )


def test_timeout_cancels_the_run(clean):
    clean.admin("POST", "/_admin/faults", {"latency_ms": 150})
    test = smoke("slow", [{"user": "Hello there"}], timeout_s=0.1)
    result = clean.run(test)
    step = result.tests[0].attempts[0].steps[0]
    assert step.failure.startswith("the run did not finish within timeout_s=0.1 (still ")
    assert step.failure.endswith("); cancelled it")
    assert threads_balanced(clean) == (1, 1)


def test_creates_that_committed_before_a_5xx_are_not_repeated(clean):
    rules = [
        {"methods": ["POST"], "path": r"/v1/threads$", "status": 500, "when": "before"},
        {
            "methods": ["POST"],
            "path": r"/v1/threads/[^/]+/messages$",
            "status": 500,
            "when": "after",
        },
        {"methods": ["POST"], "path": r"/v1/threads/[^/]+/runs$", "status": 502, "when": "after"},
        {
            "methods": ["POST"],
            "path": r"/submit_tool_outputs$",
            "status": 503,
            "when": "after",
        },
    ]
    clean.admin("POST", "/_admin/faults", {"rules": [dict(r, nth=1, count=1) for r in rules]})
    test = smoke(
        "flaky-account",
        [{"user": "Where is my order 123?", "expect": [{"contains": "shipped"}]}],
        functions=ORDER_FUNCTIONS,
    )
    result = clean.run(test)
    attempt = result.tests[0].attempts[0]
    assert attempt.outcome == "passed", attempt.first_problem
    requests = clean.requests()
    assert requests["POST /v1/threads"] == 2  # refused once, then retried
    assert requests["POST /v1/threads/{thread_id}/messages"] == 1
    assert requests["POST /v1/threads/{thread_id}/runs"] == 1
    assert requests["POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"] == 1


def test_account_errors_make_the_test_an_error_and_still_delete_the_thread(clean):
    clean.admin(
        "POST",
        "/_admin/faults",
        {"rules": [{"methods": ["POST"], "path": r"/runs$", "status": 400, "nth": 1, "count": 1}]},
    )
    result = clean.run(smoke("refused", [{"user": "Hello"}]))
    attempt = result.tests[0].attempts[0]
    assert attempt.outcome == "error" and result.exit_code == 1
    assert "create a run: the account answered 400" in attempt.error
    assert threads_balanced(clean) == (1, 1)


def test_parallel_gives_the_same_results_as_serial(clean):
    tests = [
        smoke("order", [{"user": "Where is my order 123?"}], functions=ORDER_FUNCTIONS, repeat=3),
        smoke("returns", [{"user": "Can I return an item?", "expect": [{"cites": "x.md"}]}]),
        smoke("echo", [{"user": "Hello", "expect": [{"icontains": "you said"}]}], repeat=2),
    ]

    def shape(result):
        return [
            (
                t.name,
                t.outcome,
                [(a.index, a.outcome, [s.reply.text for s in a.steps]) for a in t.attempts],
            )
            for t in result.tests
        ]

    serial = clean.run(*tests, parallel=1)
    parallel = clean.run(*tests, parallel=8)
    assert shape(serial) == shape(parallel)
    assert [t.outcome for t in serial.tests] == ["passed", "failed", "passed"]
    assert threads_balanced(clean) == (12, 12)


def test_repeat_and_threshold_against_the_account(clean):
    always_fails = {"user": "Hello", "expect": [{"contains": "never"}]}
    lenient = smoke("lenient", [always_fails], repeat=3, pass_threshold=0.0)
    strict = smoke("strict", [always_fails], repeat=2, pass_threshold=0.5)
    result = clean.run(lenient, strict)
    assert [(t.passes, t.required, t.outcome) for t in result.tests] == [
        (0, 0, "passed"),
        (0, 1, "failed"),
    ]
    assert [len(t.attempts) for t in result.tests] == [3, 2]


def test_interrupt_deletes_the_threads_in_flight(clean):
    clean.admin("POST", "/_admin/faults", {"latency_ms": 40})
    tests = [smoke(f"t{i}", [{"user": "Hello"}, {"user": "Again"}]) for i in range(6)]

    def interrupt(test, attempt):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clean.run(*tests, parallel=3, on_attempt=interrupt)
    created, deleted = threads_balanced(clean)
    assert 1 <= created < 6 and created == deleted


def test_not_deployed_assistant_is_a_clear_error(clean):
    other = model.Desired(stack="elsewhere", env="prod", root=QUICKSTART)
    test = smoke("orphan", [{"user": "Hello"}])
    with pytest.raises(SmokeTestError) as caught:
        smoketest.run_suite(clean.backend, other, [test], apply_hint="assistctl apply . --env prod")
    assert caught.value.message == (
        "tests/orphan.yaml:2: smoke test 'orphan' uses assistant 'support-bot', which is not "
        "deployed for stack 'elsewhere/prod' on this account"
    )
    assert caught.value.hint == "deploy it first: assistctl apply . --env prod"
    assert threads_balanced(clean) == (0, 0)


def test_unusable_tests_are_refused_before_any_conversation(clean):
    bad = smoke("bad-regex", [{"user": "Hi", "expect": [{"regex": "(unclosed"}]}])
    with pytest.raises(SmokeTestError) as caught:
        clean.run(bad)
    assert caught.value.message.startswith("tests/bad-regex.yaml:2: spec.steps[0].expect[0]: ")
    assert clean.requests() == {}


def test_select_by_substring_or_glob():
    tests = [smoke(name, [{"user": "x"}]) for name in ("order-status", "returns", "order-late")]
    assert [t.name for t in smoketest.select(tests, "order")[0]] == ["order-status", "order-late"]
    selected, deselected = smoketest.select(tests, "*-late")
    assert [t.name for t in selected] == ["order-late"] and deselected == (
        "order-status",
        "returns",
    )
    assert smoketest.select(tests, None) == (tuple(tests), ())


def test_interrupted_conversation_stops_polling():
    stop = threading.Event()
    stop.set()
    test = smoke("stopped", [{"user": "x"}])
    attempt = smoketest.Attempt(
        AssistantsBackend(None),  # type: ignore[arg-type]
        test,
        1,
        target_id="asst_1",
        deployment=smoketest.Deployment("s", {"support-bot": "asst_1"}),
        stop=stop,
    )
    with pytest.raises(Interrupted):
        attempt.run()


def test_deployment_maps_file_ids_to_manifest_paths():
    desired = manifest.load([QUICKSTART])
    returns = next(f for f in desired.files if f.path == "docs/returns.md")
    tags = {model.STACK_KEY: "support"}
    deployed = builders.live(
        "support",
        assistants=[
            builders.live_assistant(
                {"id": "asst_1", "metadata": {**tags, model.NAME_KEY: "support-bot"}}
            )
        ],
        vector_stores=[
            builders.live_store(
                {"id": "vs_1", "metadata": {**tags, model.NAME_KEY: "handbook"}},
                [
                    {
                        "id": "file-a",
                        "status": "completed",
                        "attributes": {"assistctl_path": "docs/x.md"},
                    }
                ],
            )
        ],
        uploads=[
            builders.live_upload("file-b", "support", returns.sha256, "returns.md"),
            builders.live_upload("file-c", "support", "0" * 64, "old.md"),
        ],
    )
    deployment = smoketest.Deployment.from_live(deployed, desired)
    assert deployment.assistants == {"support-bot": "asst_1"}
    assert deployment.citation("file-a", "q") == Citation("file-a", "docs/x.md", "x.md", "q")
    assert deployment.citation("file-b", "q") == Citation(
        "file-b", "docs/returns.md", "returns.md", "q"
    )
    assert deployment.citation("file-c", "q") == Citation("file-c", None, "old.md", "q")
    assert deployment.citation("file-z", "q").label == "file-z"
