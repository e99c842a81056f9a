"""The runtime helper apps import: a release file in, ``responses.create`` arguments out, with
the standard library only and a tampered file refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistctl import release
from assistctl.errors import ReleaseError
from assistctl.release import Release, load_release

ROOT = Path(__file__).resolve().parent.parent

REQUEST = {
    "model": "gpt-4o-mini",
    "instructions": "Be brief.",
    "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "temperature": 0.2,
    "top_p": 1.0,
    "metadata": {"assistctl_stack": "support", "assistctl_name": "bot", "team": "a"},
}


def written(tmp_path: Path, request: dict = REQUEST) -> Path:
    path = tmp_path / "bot.json"
    content = release.document(request, display_name="Bot", description=None)
    path.write_text(release.dumps(content))
    return path


def test_a_release_becomes_the_keyword_arguments_of_responses_create(tmp_path):
    loaded = load_release(written(tmp_path))
    assert (loaded.stack, loaded.name, loaded.model) == ("support", "bot", "gpt-4o-mini")
    assert loaded.vector_store_ids == ("vs_1",)
    assert loaded.digest == release.request_digest(REQUEST)
    arguments = loaded.request(input="Hi", conversation="conv_1")
    assert arguments["input"] == "Hi" and arguments["conversation"] == "conv_1"
    assert arguments["metadata"]["assistctl_release"] == loaded.digest
    assert {k: v for k, v in arguments.items() if k not in ("input", "conversation")} == {
        **REQUEST,
        "metadata": {**REQUEST["metadata"], "assistctl_release": loaded.digest},
    }


def test_each_call_gets_its_own_copy_and_only_call_options_may_be_added(tmp_path):
    loaded = load_release(written(tmp_path))
    first = loaded.request(input="a", previous_response_id="resp_1", stream=True)
    first["tools"].append({"type": "web_search"})
    assert loaded.request(input="b")["tools"] == REQUEST["tools"]
    assert first["previous_response_id"] == "resp_1" and first["stream"] is True
    with pytest.raises(ReleaseError, match="instructions is fixed by the release"):
        loaded.request(input="a", instructions="Be long.")
    with pytest.raises(ReleaseError, match="not both"):
        loaded.request(input="a", conversation="conv_1", previous_response_id="resp_1")


def test_additional_instructions_and_metadata_extend_the_release(tmp_path):
    loaded = load_release(written(tmp_path))
    arguments = loaded.request(
        input="a",
        additional_instructions="Answer in French.",
        metadata={"user": "u1", "assistctl_name": "forged"},
    )
    assert arguments["instructions"] == "Be brief.\n\nAnswer in French."
    assert arguments["metadata"]["user"] == "u1"
    assert arguments["metadata"]["assistctl_name"] == "bot"


def test_a_release_edited_after_apply_is_refused_unless_asked_not_to_verify(tmp_path):
    path = written(tmp_path)
    content = json.loads(path.read_text())
    content["request"]["instructions"] = "Promise refunds."
    path.write_text(json.dumps(content))
    with pytest.raises(ReleaseError, match="does not match its digest"):
        load_release(path)
    assert load_release(path, verify=False).template["instructions"] == "Promise refunds."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something/else"}', "not an assistctl release"),
        ('{"format": "assistctl.release/v1", "request": {}}', "no request with a model"),
    ],
)
def test_what_is_not_a_release_is_refused_with_the_path(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ReleaseError, match=message) as caught:
        load_release(path)
    assert str(path) in caught.value.message


def test_a_missing_file_is_a_release_error(tmp_path):
    with pytest.raises(ReleaseError, match="cannot read the release"):
        load_release(tmp_path / "absent.json")


def test_the_digest_ignores_key_order_and_its_own_key():
    shuffled = dict(reversed(list(REQUEST.items())))
    stamped = {**REQUEST, "metadata": {**REQUEST["metadata"], "assistctl_release": "x"}}
    assert release.request_digest(shuffled) == release.request_digest(REQUEST)
    assert release.request_digest(stamped) == release.request_digest(REQUEST)
    assert release.request_digest({**REQUEST, "temperature": 0.3}) != release.request_digest(
        REQUEST
    )


def test_importing_the_helper_loads_the_standard_library_only():
    probe = (
        "import json, sys\n"
        "from assistctl.release import load_release\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] not in sys.stdlib_module_names and not m.startswith('_'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == [
        "assistctl",
        "assistctl.errors",
        "assistctl.model",
        "assistctl.release",
    ]


def test_from_document_names_where_the_content_came_from():
    with pytest.raises(ReleaseError, match="^app.json: "):
        Release.from_document([], "app.json")
