"""Manifests: every bad manifest gives a located, actionable error through the CLI; good
examples load into the views the planner expects."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistctl import manifest, model
from assistctl.cli import cli
from assistctl.errors import ManifestError

ROOT = Path(__file__).resolve().parents[2]
BAD = "tests/data/bad"

# (case, "FILE:LINE: FIELD.PATH" fragment, message fragment, extra CLI args)
BAD_CASES = [
    ("yaml-syntax.yaml", "yaml-syntax.yaml:9:", "YAML syntax error", ()),
    ("empty.yaml", "empty.yaml:", "empty file", ()),
    ("not-a-mapping.yaml", "not-a-mapping.yaml:1:", "must be a mapping, not a list", ()),
    ("doc-not-mapping-second.yaml", "doc-not-mapping-second.yaml:9:", "must be a mapping", ()),
    ("binary.yaml", "binary.yaml:", "binary file", ()),
    ("not-utf8.yaml", "not-utf8.yaml:8:", "not UTF-8", ()),
    ("anchor-unknown-tag.yaml", "anchor-unknown-tag.yaml:8:", "tag '!secret'", ()),
    ("wrong-api-version.yaml", "wrong-api-version.yaml:1: apiVersion", "'assistctl/v2'", ()),
    ("missing-api-version.yaml", "missing-api-version.yaml:1: apiVersion", "is required", ()),
    ("unknown-kind.yaml", "unknown-kind.yaml:2: kind", "unknown kind 'Assistent'", ()),
    ("missing-kind.yaml", "missing-kind.yaml:1: kind", "'kind' is required", ()),
    ("unknown-top-field.yaml", "unknown-top-field.yaml:8: status", "unknown field", ()),
    (
        "unknown-spec-field.yaml",
        "unknown-spec-field.yaml:8: spec.temprature",
        "did you mean 'temperature'",
        (),
    ),
    ("missing-model.yaml", "missing-model.yaml:5: spec", "'model' is required", ()),
    ("missing-metadata-name.yaml", "missing-metadata-name.yaml:3: metadata", "'name'", ()),
    ("bad-logical-name.yaml", "bad-logical-name.yaml:4: metadata.name", "does not match", ()),
    ("model-not-string.yaml", "model-not-string.yaml:6: spec.model", "must be a string", ()),
    ("name-too-long.yaml", "name-too-long.yaml:8: spec.name", "257 characters", ()),
    (
        "description-too-long.yaml",
        "description-too-long.yaml:8: spec.description",
        "the limit is 512",
        (),
    ),
    (
        "missing-instructions.yaml",
        "missing-instructions.yaml:5: spec",
        "'instructions' or 'instructions_file' is required",
        (),
    ),
    (
        "both-instructions.yaml",
        "both-instructions.yaml:8: spec.instructions_file",
        "not both",
        (),
    ),
    (
        "instructions-file-missing.yaml",
        "instructions-file-missing.yaml:7: spec.instructions_file",
        "file not found: prompts/missing.md",
        (),
    ),
    (
        "instructions-file-binary",
        "instructions-file-binary/bot.yaml:7: spec.instructions_file",
        "not UTF-8 text",
        (),
    ),
    ("too-many-tools.yaml", "too-many-tools.yaml:8: spec.tools", "129 items; the limit is 128", ()),
    (
        "metadata-too-many-keys.yaml",
        "metadata-too-many-keys.yaml:8: spec.metadata",
        "15 keys; the limit is 14",
        (),
    ),
    (
        "metadata-key-too-long.yaml",
        "metadata-key-too-long.yaml:10: spec.metadata.kkkk",
        "longer than 64",
        (),
    ),
    (
        "metadata-value-too-long.yaml",
        "metadata-value-too-long.yaml:10: spec.metadata.note",
        "the limit is 512",
        (),
    ),
    (
        "metadata-reserved-key.yaml",
        "metadata-reserved-key.yaml:10: spec.metadata.assistctl_stack",
        "reserved prefix",
        (),
    ),
    (
        "metadata-value-not-string.yaml",
        "metadata-value-not-string.yaml:10: spec.metadata.tier",
        "must be a string",
        (),
    ),
    (
        "two-vector-stores.yaml",
        "two-vector-stores.yaml:12: spec.tool_resources.file_search.vector_stores",
        "the limit is 1",
        (),
    ),
    (
        "code-interpreter-too-many-files",
        "code-interpreter-too-many-files/bot.yaml:12: spec.tool_resources.code_interpreter.files",
        "21 files",
        (),
    ),
    (
        "code-interpreter-without-tool",
        "code-interpreter-without-tool/bot.yaml:11: spec.tool_resources.code_interpreter",
        "no code_interpreter tool",
        (),
    ),
    (
        "file-search-without-tool",
        "file-search-without-tool/bot.yaml:9: spec.tool_resources.file_search",
        "no file_search tool",
        (),
    ),
    (
        "function-name-invalid.yaml",
        "function-name-invalid.yaml:11: spec.tools[0].function.name",
        "'get order' does not match",
        (),
    ),
    (
        "function-name-duplicate.yaml",
        "function-name-duplicate.yaml:13: spec.tools[1].function.name",
        "duplicate function name 'get_order'",
        (),
    ),
    (
        "parameters-missing.yaml",
        "parameters-missing.yaml:11: spec.tools[1].function",
        "'parameters' or 'parameters_file' is required",
        (),
    ),
    (
        "parameters-both.yaml",
        "parameters-both.yaml:13: spec.tools[0].function.parameters_file",
        "not both",
        (),
    ),
    (
        "parameters-invalid-schema.yaml",
        "parameters-invalid-schema.yaml:13: spec.tools[0].function.parameters.type",
        "not a valid JSON Schema",
        (),
    ),
    (
        "parameters-not-object.yaml",
        "parameters-not-object.yaml:12: spec.tools[0].function.parameters",
        "must be an object schema",
        (),
    ),
    (
        "parameters-file-missing.yaml",
        "parameters-file-missing.yaml:12: spec.tools[0].function.parameters_file",
        "file not found: tools/missing.json",
        (),
    ),
    (
        "parameters-file-bad-json",
        "parameters-file-bad-json/get_order.json:3",  # the JSON file's own line
        "not valid JSON: Expecting ',' delimiter (column 2)",
        (),
    ),
    (
        "strict-not-closed.yaml",
        "strict-not-closed.yaml:13: spec.tools[0].function.parameters",
        "additionalProperties: false",
        (),
    ),
    ("duplicate-tool.yaml", "duplicate-tool.yaml:11: spec.tools[2]", "duplicate file_search", ()),
    (
        "unknown-tool-type.yaml",
        "unknown-tool-type.yaml:10: spec.tools[1].type",
        "'web_search' is not one of",
        (),
    ),
    (
        "tool-unknown-field.yaml",
        "tool-unknown-field.yaml:11: spec.tools[0].file_search.max_results",
        "did you mean 'max_num_results'",
        (),
    ),
    (
        "file-search-max-results.yaml",
        "file-search-max-results.yaml:11: spec.tools[0].file_search.max_num_results",
        "must be <= 50",
        (),
    ),
    (
        "temperature-out-of-range.yaml",
        "temperature-out-of-range.yaml:8: spec.temperature",
        "must be <= 2",
        (),
    ),
    (
        "temperature-not-number.yaml",
        "temperature-not-number.yaml:8: spec.temperature",
        "must be a number, not a string",
        (),
    ),
    ("top-p-out-of-range.yaml", "top-p-out-of-range.yaml:8: spec.top_p", "must be <= 1", ()),
    (
        "response-format-invalid.yaml",
        "response-format-invalid.yaml:8: spec.response_format",
        "'json' is not valid",
        (),
    ),
    (
        "response-format-unknown-type.yaml",
        "response-format-unknown-type.yaml:9: spec.response_format.type",
        "'yaml' is not one of",
        (),
    ),
    (
        "chunking-size-out-of-range.yaml",
        "chunking-size-out-of-range.yaml:9: spec.chunking_strategy.static.max_chunk_size_tokens",
        "must be >= 100",
        (),
    ),
    (
        "chunking-overlap-too-big.yaml",
        "chunking-overlap-too-big.yaml:10: spec.chunking_strategy.static.chunk_overlap_tokens",
        "more than half",
        (),
    ),
    (
        "chunking-unknown-type.yaml",
        "chunking-unknown-type.yaml:7: spec.chunking_strategy.type",
        "'semantic' is not one of",
        (),
    ),
    (
        "chunking-static-missing.yaml",
        "chunking-static-missing.yaml:6: spec.chunking_strategy",
        "'static' is required",
        (),
    ),
    (
        "expires-days-out-of-range.yaml",
        "expires-days-out-of-range.yaml:8: spec.expires_after.days",
        "must be <= 365",
        (),
    ),
    (
        "expires-anchor-wrong.yaml",
        "expires-anchor-wrong.yaml:7: spec.expires_after.anchor",
        "must be 'last_active_at'",
        (),
    ),
    (
        "vector-store-files-not-list.yaml",
        "vector-store-files-not-list.yaml:6: spec.files",
        "must be a list",
        (),
    ),
    (
        "vector-store-missing-reference",
        "vector-store-missing-reference/bot.yaml:12: "
        "spec.tool_resources.file_search.vector_stores[0]",
        "did you mean 'handbook'",
        (),
    ),
    (
        "vector-store-file-missing",
        "vector-store-file-missing/kb.yaml:8: spec.files[1]",
        "file not found: docs/missing.md",
        (),
    ),
    (
        "vector-store-glob-no-match",
        "vector-store-glob-no-match/kb.yaml:8: spec.files[1]",
        "'docs/*.md' matches no files",
        (),
    ),
    (
        "vector-store-unsupported-type",
        "vector-store-unsupported-type/kb.yaml:8: spec.files[1]",
        "'.csv' cannot be indexed",
        (),
    ),
    (
        "vector-store-empty-file",
        "vector-store-empty-file/kb.yaml:8: spec.files[1]",
        "empty.md is empty",
        (),
    ),
    (
        "vector-store-file-is-directory",
        "vector-store-file-is-directory/kb.yaml:7: spec.files[0]",
        "is a directory",
        (),
    ),
    (
        "duplicate-assistant-name",
        "duplicate-assistant-name/b.yaml:5: metadata.name",
        "duplicate-assistant-name/a.yaml:4",
        (),
    ),
    (
        "duplicate-name-same-file",
        "duplicate-name-same-file/stack.yaml:12: metadata.name",
        "duplicate Assistant name 'bot'",
        (),
    ),
    (
        "duplicate-key.yaml",
        "duplicate-key.yaml:9: spec.model",
        "duplicate key (first at line 6)",
        (),
    ),
    (
        "key-not-string.yaml",
        "key-not-string.yaml:9: spec.metadata.2024",
        "keys must be strings",
        (),
    ),
    (
        "key-is-a-list.yaml",
        "key-is-a-list.yaml:9: spec.metadata.[team, area]",
        "keys must be strings",
        (),
    ),
    (
        "temperature-nan.yaml",
        "temperature-nan.yaml:8: spec.temperature",
        ".nan is not a JSON number",
        (),
    ),
    ("binary-value.yaml", "binary-value.yaml:9: spec.metadata.logo", "!!binary", ()),
    ("two-stacks.yaml", "two-stacks.yaml:5: kind", "only one Stack document", ()),
    (
        "stack-unknown-field.yaml",
        "stack-unknown-field.yaml:7: spec.environments.prod.variables",
        "did you mean 'vars'",
        (),
    ),
    (
        "stack-bad-variable-name.yaml",
        "stack-bad-variable-name.yaml:8: spec.environments.prod.vars.MODEL-NAME",
        "variable name is not valid",
        (),
    ),
    (
        "undefined-variable.yaml",
        "undefined-variable.yaml:6: spec.model",
        "undefined variable 'ASSISTCTL_TEST_UNDEFINED_MODEL'",
        (),
    ),
    (
        "unknown-env.yaml",
        "unknown-env.yaml:14: spec.model",
        "--env prod|staging",
        (),
    ),
    (
        "unknown-env.yaml",
        "unknown-env.yaml:5: spec.environments",
        "unknown environment 'dev' (known: prod, staging)",
        ("--env", "dev"),
    ),
    (
        "unterminated-variable.yaml",
        "unterminated-variable.yaml:8: spec.description",
        "unterminated '${'",
        (),
    ),
    (
        "invalid-variable.yaml",
        "invalid-variable.yaml:8: spec.description",
        "invalid variable reference '${1PRICE}'",
        (),
    ),
    ("no-manifests", "no-manifests:", "no manifests", ()),
    (
        "foreign-yaml",
        "foreign-yaml/docker-compose.yml:1:",
        "not an assistctl manifest",
        (),
    ),
    (
        "tests-dir-non-smoke-test",
        "tests-dir-non-smoke-test/tests/extra.yaml:2: kind",
        "only SmokeTest documents belong in tests/",
        (),
    ),
    (
        "smoke-test-unknown-assistant",
        "smoke-test-unknown-assistant/tests/t1.yaml:6: spec.assistant",
        "did you mean 'bot'",
        (),
    ),
    (
        "smoke-test-two-keys",
        "smoke-test-two-keys/tests/t1.yaml:11: spec.steps[0].expect[1]",
        "exactly one key",
        (),
    ),
    (
        "smoke-test-unknown-expectation",
        "smoke-test-unknown-expectation/tests/t1.yaml:10: spec.steps[0].expect[0].contain",
        "did you mean 'contains'",
        (),
    ),
    (
        "smoke-test-invalid-regex",
        "smoke-test-invalid-regex/tests/t1.yaml:10: spec.steps[0].expect[0].regex",
        "invalid regular expression",
        (),
    ),
    (
        "smoke-test-missing-steps",
        "smoke-test-missing-steps/tests/t1.yaml:5: spec",
        "'steps' is required",
        (),
    ),
    (
        "smoke-test-cites-unknown-file",
        "smoke-test-cites-unknown-file/tests/t1.yaml:11: spec.steps[0].expect[1].cites",
        "not a file of the assistant's vector store",
        (),
    ),
    (
        "smoke-test-unknown-function",
        "smoke-test-unknown-function/tests/t1.yaml:8: spec.functions.get_ordr",
        "did you mean 'get_order'",
        (),
    ),
    (
        "smoke-test-bad-threshold",
        "smoke-test-bad-threshold/tests/t1.yaml:7: spec.pass_threshold",
        "must be <= 1",
        (),
    ),
    (
        "smoke-test-tool-call-unknown-field",
        "smoke-test-tool-call-unknown-field/tests/t1.yaml:13: "
        "spec.steps[0].expect[1].tool_call.argument",
        "did you mean 'arguments'",
        (),
    ),
    (
        "smoke-test-tool-call-unknown",
        "smoke-test-tool-call-unknown/tests/t1.yaml:10: spec.steps[0].expect[0].tool_call.name",
        "no function 'cancel_order'",
        (),
    ),
]


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ASSISTCTL_TEST_UNDEFINED_MODEL", raising=False)
    monkeypatch.delenv("MODEL", raising=False)


def validate(*args: str):
    return CliRunner().invoke(cli, ["validate", *args], prog_name="assistctl")


@pytest.mark.parametrize(
    ("case", "location", "message", "extra"),
    BAD_CASES,
    ids=[f"{c[0]}{'-' + '-'.join(c[3]) if c[3] else ''}" for c in BAD_CASES],
)
def test_bad_manifest_is_located(in_repo, case, location, message, extra):
    result = validate(f"{BAD}/{case}", *extra)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    matching = [line for line in lines if line.startswith(f"{BAD}/{location}")]
    assert matching, f"no line starts with {BAD}/{location}:\n{result.stderr}"
    assert any(message in line for line in matching), result.stderr
    assert lines[-1].endswith("found.")


def test_every_corpus_entry_is_covered():
    corpus = {p.name for p in (ROOT / BAD).iterdir()}
    assert corpus == {case for case, *_ in BAD_CASES}
    assert len(corpus) >= 40


def test_all_problems_are_reported_at_once(in_repo, tmp_path):
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\n"
        "kind: Assistant\n"
        "metadata: {name: bot}\n"
        "spec:\n"
        "  model: gpt-4o\n"
        "  instructions_file: missing.md\n"
        "  temperature: 9\n"
        "  colour: blue\n"
    )
    result = validate(str(tmp_path))
    assert result.exit_code == 1
    assert "bot.yaml:6: spec.instructions_file:" in result.stderr
    assert "bot.yaml:7: spec.temperature:" in result.stderr
    assert "bot.yaml:8: spec.colour: unknown field" in result.stderr
    assert result.stderr.rstrip().endswith("3 problems found.")


def test_instructions_longer_than_the_api_limit(tmp_path):
    (tmp_path / "prompt.md").write_text("x" * 256_001)
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\n"
        "spec:\n  model: gpt-4o\n  instructions_file: prompt.md\n"
    )
    with pytest.raises(ManifestError) as caught:
        manifest.load([tmp_path])
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (6, "spec.instructions_file")
    assert "256,001 characters" in problem.message


def test_missing_path_and_special_file_are_clear_errors(in_repo, tmp_path):
    result = validate("does/not/exist")
    assert result.exit_code == 1
    assert "does/not/exist: no such file or directory" in result.stderr
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = validate(str(fifo))
    assert result.exit_code == 1
    assert "not a regular file or directory" in result.stderr


# --- good manifests -------------------------------------------------------------------------


def test_quickstart_loads_with_the_documented_views(in_repo):
    desired = manifest.load(["examples/quickstart"])
    root = ROOT / "examples/quickstart"
    assert (desired.stack, desired.env, desired.root, desired.owner) == (
        "support",
        None,
        root,
        "support",
    )
    (assistant,) = desired.of_kind("assistant")
    view = assistant.spec.view()
    assert assistant.name == "support-bot"
    assert view["name"] == "Support Bot"
    assert view["model"] == "gpt-4o-mini"
    assert view["instructions"] == (root / "prompts/support.md").read_text()
    assert [tool["type"] for tool in view["tools"]] == ["file_search", "function"]
    function = view["tools"][1]["function"]
    assert function["name"] == "get_order"
    assert function["parameters"] == json.loads((root / "tools/get_order.json").read_text())
    assert "parameters_file" not in function
    assert view["tool_resources"] == {"file_search": {"vector_stores": ["handbook"]}}
    assert (view["temperature"], view["top_p"], view["response_format"]) == (0.2, 1.0, "auto")
    assert view["metadata"] == {"team": "support"}
    assert assistant.files == ()

    (store,) = desired.of_kind("vector_store")
    paths = ["docs/returns.md", "docs/shipping.md", "docs/warranty.md"]
    assert [f.path for f in store.files] == paths
    for desired_file in store.files:
        content = (root / desired_file.path).read_bytes()
        assert desired_file.source == root / desired_file.path
        assert desired_file.sha256 == hashlib.sha256(content).hexdigest()
        assert desired_file.bytes == len(content)
    assert store.spec.view() == {
        "name": "Support handbook",
        "expires_after": None,
        "chunking_strategy": {
            "type": "static",
            "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
        },
        "metadata": {"team": "support"},
        "files": {f.path: f.sha256 for f in store.files},
    }
    assert [f.path for f in desired.files] == paths
    assert desired.smoke_tests == ()


def test_quickstart_smoke_tests_load_from_tests_dir(in_repo):
    tests = manifest.load_smoke_tests(["examples/quickstart"])
    assert [t.name for t in tests] == ["order-status", "returns-policy", "warranty"]
    order = tests[0]
    assert order.assistant == "support-bot"
    assert order.spec["repeat"] == {"min": 3, "max": 20} and order.spec["pass_threshold"] == 0.8
    assert order.spec["functions"]["get_order"][0]["output"]["status"] == "shipped"
    assert order.location.file == "examples/quickstart/tests/order-status.yaml"
    returns = tests[1].spec["steps"][0]["expect"]
    assert {"contains": "30 days"} in returns and {"cites": "docs/returns.md"} in returns


def test_explicit_smoke_test_file_checked_against_given_desired(in_repo):
    desired = manifest.load(["examples/quickstart"])
    path = "examples/quickstart/tests/warranty.yaml"
    (test,) = manifest.load_smoke_tests([path], desired=desired)
    assert test.name == "warranty"
    other = manifest.load(["examples/multi-env"], env="prod")
    with pytest.raises(ManifestError, match="no Assistant named 'support-bot'"):
        manifest.load_smoke_tests([path], desired=other)


def test_validate_success_line(in_repo):
    result = validate("examples/quickstart")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Valid: stack support (1 assistant, 1 vector store, 3 files, 3 smoke tests).\n"
    )


@pytest.mark.parametrize(
    ("env", "model", "channel"),
    [("staging", "gpt-4o-mini", "#triage-staging"), ("prod", "gpt-4o", "#triage")],
)
def test_multi_env_selects_environment_vars(in_repo, env, model, channel):
    desired = manifest.load(["examples/multi-env"], env=env, environ={})
    (assistant,) = desired.of_kind("assistant")
    assert desired.owner == f"triage/{env}"
    assert assistant.spec.view()["model"] == model
    assert assistant.spec.view()["metadata"]["channel"] == channel
    assert assistant.spec.view()["response_format"] == {"type": "json_object"}
    assert assistant.spec.view()["metadata"]["owner"] == "support-platform"
    result = validate("examples/multi-env", "--env", env)
    assert result.exit_code == 0, result.output
    assert f"stack triage, environment {env}" in result.output


def write_stack(directory: Path, assistant_spec: str, vars_yaml: str = "{MODEL: from-vars}"):
    (directory / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: demo}\n"
        f"spec:\n  environments:\n    dev: {{vars: {vars_yaml}}}\n"
    )
    (directory / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\n"
        "spec:\n  instructions: hi\n" + assistant_spec
    )


def test_interpolation_precedence_defaults_and_escape(tmp_path):
    write_stack(
        tmp_path,
        "  model: ${MODEL}\n"
        "  description: ${TEAM:-nobody} $${NOT_A_VAR} ${EMPTY:-fallback} ${FROM_ENV}\n",
    )
    environ = {"MODEL": "from-environ", "FROM_ENV": "env-value", "EMPTY": ""}
    view = manifest.load([tmp_path], env="dev", environ=environ).of_kind("assistant")[0].spec.view()
    assert view["model"] == "from-vars"
    assert view["description"] == "nobody ${NOT_A_VAR} fallback env-value"
    view = manifest.load([tmp_path], environ=environ).of_kind("assistant")[0].spec.view()
    assert view["model"] == "from-environ"


def test_plain_reference_takes_the_type_of_its_value_quoted_stays_text(tmp_path):
    write_stack(tmp_path, "  model: m\n  temperature: ${T}\n", vars_yaml="{T: 0.5}")
    assert (
        manifest.load([tmp_path], env="dev", environ={})
        .of_kind("assistant")[0]
        .spec.view()["temperature"]
        == 0.5
    )
    write_stack(tmp_path, "  model: m\n  temperature: '${T}'\n", vars_yaml="{T: 0.5}")
    with pytest.raises(ManifestError, match="spec.temperature: must be a number, not a string"):
        manifest.load([tmp_path], env="dev", environ={})


def test_stack_name_and_root_defaults(tmp_path):
    project = tmp_path / "my-bots"
    (project / "nested").mkdir(parents=True)
    for name, folder in (("a", project), ("b", project / "nested")):
        (folder / f"{name}.yml").write_text(
            "apiVersion: assistctl/v1\nkind: VectorStore\n"
            f"metadata: {{name: {name}}}\nspec: {{files: [{name}.md]}}\n"
        )
        (folder / f"{name}.md").write_text(f"# {name}\n")
    desired = manifest.load([project], environ={})
    assert (desired.stack, desired.root) == ("my-bots", project)
    assert [f.path for f in desired.files] == ["a.md", "nested/b.md"]
    files_only = manifest.load([project / "a.yml", project / "nested/b.yml"], environ={})
    assert (files_only.stack, files_only.root) == ("my-bots", project)
    assert [f.path for f in files_only.files] == ["a.md", "nested/b.md"]


def test_code_interpreter_globs_are_expanded_sorted_and_deduplicated(tmp_path):
    (tmp_path / "data").mkdir()
    for name in ("b.csv", "a.csv"):
        (tmp_path / "data" / name).write_text(f"file,{name}\n1,2\n")
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\nspec:\n"
        "  model: m\n  instructions: hi\n  tools: [{type: code_interpreter}]\n"
        "  tool_resources:\n    code_interpreter:\n      files: [data/*.csv, data/a.csv]\n"
    )
    (assistant,) = manifest.load([tmp_path], environ={}).of_kind("assistant")
    assert [f.path for f in assistant.files] == ["data/a.csv", "data/b.csv"]
    assert assistant.spec.view()["tool_resources"] == {
        "code_interpreter": {"files": ["data/a.csv", "data/b.csv"]}
    }
    assert assistant.same_content == ()


def test_paths_with_the_same_bytes_are_attached_once_under_the_first_path(tmp_path):
    """The API attaches an upload to a store once; a second identical path would never match."""
    (tmp_path / "docs").mkdir()
    for name in ("b.md", "a.md", "c.md"):
        (tmp_path / "docs" / name).write_text("same" if name != "c.md" else "other")
    (tmp_path / "store.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: VectorStore\nmetadata: {name: docs}\n"
        "spec:\n  files: [docs/*.md]\n"
    )
    (store,) = manifest.load([tmp_path], environ={}).of_kind("vector_store")
    assert [f.path for f in store.files] == ["docs/a.md", "docs/c.md"]
    assert list(store.spec.view()["files"]) == ["docs/a.md", "docs/c.md"]
    assert store.same_content == (("docs/b.md", "docs/a.md"),)


def test_validate_imports_neither_openai_nor_the_local_server():
    probe = (
        "import sys\n"
        "from assistctl.cli import cli\n"
        "try:\n"
        "    cli.main(['validate', 'examples/quickstart'], prog_name='assistctl')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx')"
        " or m.startswith('assistctl.local')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("[]"), done.stdout


def test_schemas_are_valid_and_closed():
    from jsonschema import Draft202012Validator

    def objects_with_properties(node):
        if isinstance(node, dict):
            if "properties" in node:
                yield node
            for value in node.values():
                yield from objects_with_properties(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects_with_properties(value)

    for kind in manifest.manifest_kinds():
        filename = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower() + ".json"
        schema = manifest.schema(kind)
        Draft202012Validator.check_schema(schema)
        assert json.loads((ROOT / "schemas" / filename).read_text()) == schema
        name_schema = (
            schema.get("$defs", {}).get("logicalName")
            or schema["properties"]["metadata"]["properties"]["name"]
        )
        assert name_schema["pattern"] == model.NAME_PATTERN
        for node in objects_with_properties(schema):
            if node is schema["$defs"].get("expectation") if "$defs" in schema else False:
                continue
            assert node.get("additionalProperties") is False, (kind, sorted(node["properties"]))


def replacements(value, path=()):
    """Every (path, wrong value) pair: each node of a document replaced by values of other types."""
    for wrong in (None, 7, "text", [], {}, [{"x": 1}]):
        if path and type(wrong) is not type(value):
            yield path, wrong
    if isinstance(value, dict):
        for key, child in value.items():
            yield from replacements(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from replacements(child, (*path, index))


def replaced(document, path, wrong):
    copy = json.loads(json.dumps(document))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = wrong
    return copy


@pytest.mark.parametrize(
    "manifest_file", ["support-bot.yaml", "handbook.yaml", "stack.yaml", "tests/order-status.yaml"]
)
def test_wrong_types_anywhere_give_problems_never_a_crash(tmp_path, manifest_file):
    import shutil

    import yaml

    stack = tmp_path / "quickstart"
    shutil.copytree(ROOT / "examples/quickstart", stack)
    original = yaml.safe_load((stack / manifest_file).read_text())
    for path, wrong in replacements(original):
        (stack / manifest_file).write_text(yaml.safe_dump(replaced(original, path, wrong)))
        try:
            manifest.load_all([stack], environ={})
        except ManifestError as exc:
            assert exc.problems, (path, wrong)


@pytest.mark.parametrize(
    "example",
    sorted(
        str(path.relative_to(ROOT))
        for name in ("quickstart", "multi-env")
        for path in (ROOT / "examples" / name).rglob("*.yaml")
    ),
)
def test_example_modelines_point_at_a_schema_the_file_satisfies(example):
    """What an editor with the YAML language server shows: the file, as written, against the
    schema its modeline names."""
    import yaml
    from jsonschema import Draft202012Validator

    path = ROOT / example
    first_line = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first_line.startswith(prefix), first_line
    schema_path = (path.parent / first_line[len(prefix) :]).resolve()
    assert schema_path.parent == (ROOT / "assistctl" / "schemas").resolve()
    validator = Draft202012Validator(json.loads(schema_path.read_text()))
    for document in yaml.safe_load_all(path.read_text()):
        assert [e.message for e in validator.iter_errors(document)] == []


def test_empty_documents_are_ignored_as_kubectl_does(tmp_path):
    """A trailing ``---`` or a commented-out last document used to be an error."""
    (tmp_path / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: e}\n---\n"
    )
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: a}\n"
        "spec: {model: m, instructions: hi}\n---\n# apiVersion: assistctl/v1\n# kind: Assistant\n"
    )
    desired = manifest.load([tmp_path], environ={})
    assert [r.address for r in desired.resources] == ["assistant.a"]
    (tmp_path / "nothing.yaml").write_text("---\n# nothing here\n")
    with pytest.raises(ManifestError, match="empty file: no YAML documents"):
        manifest.load([tmp_path], environ={})


def _acme(tmp_path):
    stack = tmp_path / "acme"
    (stack / "bots").mkdir(parents=True)
    (stack / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: acme}\n"
        "spec:\n  environments:\n    prod: {vars: {MODEL: gpt-4o}}\n"
    )
    for name in ("helpdesk", "analyst"):
        (stack / "bots" / f"{name}.yaml").write_text(
            "apiVersion: assistctl/v1\nkind: Assistant\n"
            f"metadata: {{name: {name}}}\nspec: {{model: '${{MODEL:-m}}', instructions: hi}}\n"
        )
    return stack


def test_a_lone_file_finds_its_stack_above_and_is_not_the_whole_stack(tmp_path):
    """A lone file used to lose the stack's name and environments, and planning some files of
    a stack pruned the rest."""
    stack = _acme(tmp_path)
    desired = manifest.load([stack / "bots" / "helpdesk.yaml"], env="prod", environ={})
    assert (desired.stack, desired.root, desired.complete) == ("acme", stack.resolve(), False)
    (helpdesk,) = desired.of_kind("assistant")
    assert helpdesk.spec.view()["model"] == "gpt-4o"
    whole = manifest.load([stack], env="prod", environ={})
    assert whole.complete and len(whole.of_kind("assistant")) == 2
    some = manifest.load([stack / "stack.yaml", stack / "bots" / "helpdesk.yaml"], environ={})
    assert not some.complete


def test_a_mistyped_environment_is_the_one_problem_reported_with_a_suggestion(in_repo):
    """--env stagin used to report every undefined ${VAR} before the cause, and no suggestion."""
    result = validate(f"{BAD}/unknown-env.yaml", "--env", "stagin")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == "1 problem found."
    assert "unknown environment 'stagin'" in lines[0] and "did you mean --env staging?" in lines[0]


def test_a_file_search_file_that_is_not_utf8_is_refused_at_validate(tmp_path):
    """A Latin-1 .md used to pass validate and fail only at indexing, after the uploads."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "legacy.md").write_bytes(b"Caf\xe9 opening hours\n")
    (tmp_path / "docs" / "notes.md").write_bytes("\ufeffUTF-16 is fine".encode("utf-16"))
    (tmp_path / "store.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: VectorStore\nmetadata: {name: kb}\n"
        "spec:\n  files: [docs/legacy.md, docs/notes.md]\n"
    )
    with pytest.raises(ManifestError) as caught:
        manifest.load([tmp_path], environ={})
    (problem,) = caught.value.problems
    assert str(problem).endswith(
        "store.yaml:5: spec.files[0]: docs/legacy.md is not UTF-8 text (byte 3 is 0xe9): "
        "file_search indexes text in UTF-8 (or UTF-16 with a byte-order mark) "
        "(hint: save it as UTF-8 (e.g. iconv -f latin1 -t utf-8))"
    )
    assert "byte 3 is 0xe9" in str(problem)


def test_a_bad_value_from_a_variable_names_the_variable_and_where_it_is_set(tmp_path):
    """``TEMPERATURE: hot`` used to be reported on the assistant's line alone."""
    (tmp_path / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: hot}\nspec:\n"
        "  environments:\n    staging:\n      vars: {TEMPERATURE: hot}\n---\n"
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: a}\nspec:\n"
        "  model: m\n  instructions: hi\n  temperature: ${TEMPERATURE}\n"
    )
    with pytest.raises(ManifestError) as caught:
        manifest.load([tmp_path], env="staging", environ={})
    (problem,) = caught.value.problems
    assert str(problem).endswith(
        "stack.yaml:15: spec.temperature: must be a number, not a string "
        "(the value of ${TEMPERATURE}, set in "
        f"{problem.file}:7)"
    )


def test_an_invalid_schema_in_a_parameters_file_points_at_its_line(tmp_path):
    (tmp_path / "get_order.json").write_text(
        '{\n  "type": "object",\n  "properties": {\n    "id": {"type": "nope"}\n  }\n}\n'
    )
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\nspec:\n"
        "  model: m\n  instructions: hi\n  tools:\n    - type: function\n      function:\n"
        "        name: get_order\n        parameters_file: get_order.json\n"
    )
    with pytest.raises(ManifestError) as caught:
        manifest.load([tmp_path], environ={})
    (problem,) = caught.value.problems
    assert problem.file.endswith("get_order.json") and problem.line == 4
    assert problem.field == "properties.id.type"
    assert "not a valid JSON Schema" in problem.message
    assert "spec.tools[0].function.parameters_file" in problem.hint


def test_repeated_values_are_checked_in_every_document_that_holds_them(tmp_path):
    """Checks are remembered for speed; a repeated mistake is still reported where it is."""
    tool = (
        "    - type: function\n      function:\n        name: get_order\n"
        "        parameters: {type: object, properties: {id: {type: %s}}}\n"
    )
    documents = []
    for index, (kind_of_id, team) in enumerate(
        [("string", "a"), ("string", "a"), ("nope", "a"), ("nope", "a"), ("string", "")]
    ):
        documents.append(
            f"apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {{name: bot-{index}}}\n"
            f"spec:\n  model: m\n  instructions: hi\n  metadata: {{'{team}': x}}\n  tools:\n"
            + (tool % kind_of_id)
        )
    (tmp_path / "bots.yaml").write_text("---\n".join(documents))
    with pytest.raises(ManifestError) as caught:
        manifest.load([tmp_path], environ={})
    found = sorted((problem.line, problem.field) for problem in caught.value.problems)
    assert [field for _, field in found] == [
        "spec.tools[0].function.parameters.properties.id.type",
        "spec.tools[0].function.parameters.properties.id.type",
        'spec.metadata[""]',
    ]


# --- the Stack's API mode and release directory (issue 16) -------------------------------------


def test_stack_settings_with_environment_overrides(tmp_path):
    (tmp_path / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: demo}\n"
        "spec:\n  api: responses\n  release_dir: shipped\n  environments:\n"
        "    dev: {}\n    legacy: {api: assistants}\n    prod: {release_dir: /srv/releases}\n"
    )
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\n"
        "spec: {model: m, instructions: hi}\n"
    )
    settings = {
        env: manifest.load([tmp_path], env=env, environ={}).settings
        for env in (None, "dev", "legacy", "prod")
    }
    assert settings[None] == model.StackSettings("responses", tmp_path / "shipped")
    assert settings["dev"] == model.StackSettings("responses", tmp_path / "shipped" / "dev")
    assert settings["legacy"] == model.StackSettings("assistants", tmp_path / "shipped" / "legacy")
    assert settings["prod"] == model.StackSettings("responses", Path("/srv/releases"))


def test_without_a_stack_document_the_settings_are_left_to_the_account(tmp_path):
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\n"
        "spec: {model: m, instructions: hi}\n"
    )
    assert manifest.load([tmp_path], environ={}).settings == model.StackSettings()


def test_an_unknown_api_mode_is_a_located_problem(tmp_path):
    (tmp_path / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: demo}\nspec:\n  api: threads\n"
    )
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\n"
        "spec: {model: m, instructions: hi}\n"
    )
    with pytest.raises(ManifestError, match=r"stack.yaml:5: spec.api: "):
        manifest.load([tmp_path], environ={})


def test_a_forced_tool_must_be_one_the_assistant_has(tmp_path):
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {name: bot}\n"
        "spec:\n  model: m\n  instructions: hi\n"
        "  tools: [{type: function, function: {name: ping, parameters: {type: object}}}]\n"
        "  tool_choice: {type: function, name: pong}\n"
    )
    with pytest.raises(ManifestError, match="spec.tool_choice.name: no function named 'pong'"):
        manifest.load([tmp_path], environ={})
    text = (tmp_path / "bot.yaml").read_text()
    (tmp_path / "bot.yaml").write_text(
        text.replace("{type: function, name: pong}", "{type: file_search}")
    )
    with pytest.raises(ManifestError, match="tool_choice forces file_search but the assistant"):
        manifest.load([tmp_path], environ={})
