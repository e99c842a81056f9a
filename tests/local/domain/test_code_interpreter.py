"""The code interpreter through the SDK over HTTP, answered by the deterministic engine (rule 4:
each fenced Python block of the user's message runs in the thread's or container's kernel)."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta.threads import Message
from openai.types.responses import Response

from assistctl.local import LocalConfig, start_in_process

from ..tools import strict_response


def fenced(code: str) -> str:
    return f"Please run this:\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def server(sandbox_available, tmp_path_factory):
    config = LocalConfig(code_interpreter="sandbox")
    with start_in_process(tmp_path_factory.mktemp("code-account"), config=config) as server:
        yield server


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)


@pytest.fixture(scope="module")
def bot(client):
    return client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])


def run_code(client, assistant_id: str, code: str, thread_id: str | None = None):
    """Runs ``code`` in a thread (a new one unless given); returns the thread id, the run, its
    code-interpreter call and the answer."""
    if thread_id is None:
        thread_id = client.beta.threads.create().id
    client.beta.threads.messages.create(thread_id=thread_id, role="user", content=fenced(code))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=20
    )
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run.id, order="asc")
    (call,) = steps.data[0].step_details.tool_calls
    answer = client.beta.threads.messages.list(thread_id=thread_id).data[0]
    return thread_id, run, call, answer


def logs_of(call) -> str:
    return call.code_interpreter.outputs[0].logs


def test_variables_persist_within_a_thread_and_never_across_threads(client, bot):
    thread, _, _, _ = run_code(client, bot.id, "secret_number = 41")
    _, _, call, answer = run_code(client, bot.id, "print(secret_number + 1)", thread)
    assert logs_of(call) == "42\n"
    assert answer.content[0].text.value == "I ran the code in the code interpreter:\n42"
    _, _, other, _ = run_code(client, bot.id, "print('secret_number' in globals())")
    assert logs_of(other) == "False\n"


def test_a_csv_file_is_summarised_with_pandas(client):
    data = b"city,sales\nOslo,10\nOslo,30\nLima,5\n"
    csv = client.files.create(file=("sales.csv", data), purpose="assistants")
    bot = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [csv.id]}},
    )
    code = (
        "import pandas as pd\n"
        "frame = pd.read_csv('/mnt/data/sales.csv')\n"
        "print(frame.groupby('city')['sales'].sum().to_dict())"
    )
    _, _, call, _ = run_code(client, bot.id, code)
    assert logs_of(call) == "{'Lima': 5, 'Oslo': 40}\n"


def test_a_thread_file_is_in_its_sandbox_and_not_in_another_threads(client, bot):
    secret = client.files.create(file=("private.txt", b"thread one only"), purpose="assistants")
    own = client.beta.threads.create(tool_resources={"code_interpreter": {"file_ids": [secret.id]}})
    code = "import os\nprint(sorted(os.listdir('/mnt/data')))"
    _, _, call, _ = run_code(client, bot.id, code, own.id)
    assert logs_of(call) == "['private.txt']\n"
    _, _, other, _ = run_code(client, bot.id, code)
    assert logs_of(other) == "[]\n"


def test_a_file_written_to_mnt_data_is_linked_and_downloadable(client, bot):
    _, _, call, answer = run_code(
        client, bot.id, "open('/mnt/data/report.txt', 'w').write('forty-two')"
    )
    Message.model_validate(answer.model_dump())
    text = answer.content[0].text
    (annotation,) = text.annotations
    assert annotation.type == "file_path" and annotation.text == "sandbox:/mnt/data/report.txt"
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    written = client.files.retrieve(annotation.file_path.file_id)
    assert (written.filename, written.purpose) == ("/mnt/data/report.txt", "assistants_output")
    assert client.files.content(written.id).read() == b"forty-two"


def test_a_matplotlib_chart_comes_back_as_an_image_file(client, bot):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.show()"
    _, _, call, answer = run_code(client, bot.id, code)
    logs, image = call.code_interpreter.outputs
    assert image.type == "image"
    assert [part.type for part in answer.content] == ["text", "image_file"]
    assert answer.content[1].image_file.file_id == image.image.file_id
    assert client.files.content(image.image.file_id).read().startswith(b"\x89PNG")


def test_deleting_a_thread_ends_its_session(server, client, bot):
    thread, _, _, _ = run_code(client, bot.id, "x = 1")
    sandbox = server.account.sandbox
    assert thread in sandbox._started().session_ids()
    client.beta.threads.delete(thread)
    assert thread not in sandbox._started().session_ids()


def test_a_response_runs_code_in_a_container_that_a_later_response_continues(client):
    data = client.files.create(file=("numbers.txt", b"1 2 3"), purpose="assistants")
    tool = {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [data.id]}}
    code = "total = sum(map(int, open('/mnt/data/numbers.txt').read().split()))\nprint(total)"
    first = client.responses.create(
        model="gpt-4o",
        input=fenced(code),
        tools=[tool],
        include=["code_interpreter_call.outputs"],
    )
    strict_response(first.model_dump())
    call, message = first.output
    assert call.type == "code_interpreter_call" and call.container_id.startswith("cntr_")
    assert call.outputs[0].logs == "6\n" and call.status == "completed"
    assert message.content[0].text == "I ran the code in the code interpreter:\n6"
    second = client.responses.create(
        model="gpt-4o",
        input=fenced("print(total * 7)"),
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        previous_response_id=first.id,
        include=["code_interpreter_call.outputs"],
    )
    assert second.output[0].container_id == call.container_id
    assert second.output[0].outputs[0].logs == "42\n"
    named = client.responses.create(
        model="gpt-4o",
        input=fenced("print(total)"),
        tools=[{"type": "code_interpreter", "container": call.container_id}],
        include=["code_interpreter_call.outputs"],
    )
    assert named.output[0].outputs[0].logs == "6\n"
    fresh = client.responses.create(
        model="gpt-4o",
        input=fenced("print('total' in globals())"),
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
    )
    assert fresh.output[0].container_id != call.container_id
    assert fresh.output[0].outputs[0].logs == "False\n"


def test_a_responses_file_and_image_come_back_with_the_container(client):
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.bar(['a', 'b'], [1, 2])\n"
        "plt.savefig('/mnt/data/chart.png')\n"
        "plt.show()"
    )
    response = client.responses.create(
        model="gpt-4o",
        input=fenced(code),
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
    )
    Response.model_validate(response.model_dump())
    call, message = response.output
    logs, image = call.outputs
    assert image.type == "image" and image.url.startswith("data:image/png;base64,")
    (annotation,) = message.content[0].annotations
    assert annotation.type == "container_file_citation"
    assert (annotation.container_id, annotation.filename) == (call.container_id, "chart.png")
    assert client.files.content(annotation.file_id).read().startswith(b"\x89PNG")


def test_an_unknown_container_is_refused(client):
    with pytest.raises(openai.BadRequestError, match="Container with id 'cntr_nope' not found"):
        client.responses.create(
            model="gpt-4o",
            input="hi",
            tools=[{"type": "code_interpreter", "container": "cntr_nope"}],
        )


def test_turned_off_no_code_runs_and_no_step_claims_it_did(tmp_path):
    with start_in_process(tmp_path, config=LocalConfig(code_interpreter="off")) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        bot = client.beta.assistants.create(
            model="gpt-4o", name="Tutor", tools=[{"type": "code_interpreter"}]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": fenced("1")}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
        )
        assert run.status == "completed"
        steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
        assert [step.type for step in steps.data] == ["message_creation"]
        answer = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        assert answer.content[0].text.value.startswith("[Tutor] You said:")
        response = client.responses.create(
            model="gpt-4o",
            input=fenced("1"),
            tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        )
        assert [item.type for item in response.output] == ["message"]
