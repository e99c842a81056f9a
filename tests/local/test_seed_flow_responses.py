"""The Assistants API overview notebook (the project's seed) ported to the Responses API: the
math tutor, its follow-up, several users at once, a function quiz and file search, run through
the SDK against the in-process account and against ``assistctl local serve`` started without
the Assistants API, as an app moved off the sunset API runs against OpenAI today.

Where the notebook keeps an assistant, a thread and runs, the port keeps the assistant's
settings in the app (``TUTOR``), a conversation per user, and one response per turn.
"""

from __future__ import annotations

import json
import time

import openai
import pytest
from pydantic import BaseModel

from .test_serve import start, stop

TUTOR_INSTRUCTIONS = (
    "You are a personal math tutor. Answer questions briefly, in a sentence or less."
)
TUTOR = {"model": "gpt-4o-mini", "instructions": TUTOR_INSTRUCTIONS}
QUIZ = {
    "type": "function",
    "name": "display_quiz",
    "description": "Displays a quiz to the student, and returns the student's response.",
    "parameters": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "question_text": {"type": "string"},
                        "question_type": {
                            "type": "string",
                            "enum": ["MULTIPLE_CHOICE", "FREE_RESPONSE"],
                        },
                        "choices": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["question_text"],
                },
            },
        },
        "required": ["title", "questions"],
    },
}


def wait_on_response(client: openai.OpenAI, response):
    """The notebook's polling loop, for responses created in the background."""
    deadline = time.monotonic() + 20
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"response {response.id} stuck in {response.status}"
        time.sleep(0.02)
        response = client.responses.retrieve(response.id)
    return response


def submit_message(client: openai.OpenAI, conversation, user_message: str, **fields):
    return client.responses.create(
        **TUTOR, conversation=conversation.id, input=user_message, background=True, **fields
    )


def transcript(client: openai.OpenAI, conversation) -> list[tuple[str, str]]:
    items = client.conversations.items.list(conversation.id, order="asc")
    return [(i.role, i.content[0].text) for i in items if i.type == "message"]


def seed_flow(client: openai.OpenAI) -> None:
    # The tutor answers one question; a follow-up continues it with previous_response_id.
    response = client.responses.create(
        **TUTOR, input="I need to solve the equation `3x + 11 = 14`. Can you help me?"
    )
    assert response.status == "completed" and response.usage.total_tokens > 0
    assert response.instructions == TUTOR_INSTRUCTIONS
    follow_up = client.responses.create(
        **TUTOR, previous_response_id=response.id, input="Could you explain this to me?"
    )
    assert follow_up.output_text == '[Assistant] You said: "Could you explain this to me?"'
    inputs = client.responses.input_items.list(follow_up.id)
    assert [item.content[0].text for item in inputs] == ["Could you explain this to me?"]

    # Several users at once: a conversation each, three responses in flight.
    conversations_and_responses = []
    for text in (
        "I need to solve the equation `3x + 11 = 14`. Can you help me?",
        "Could you explain linear algebra to me?",
        "I don't like math. What can I do?",
    ):
        conversation = client.conversations.create(metadata={"user": text[:20]})
        conversations_and_responses.append(
            (conversation, submit_message(client, conversation, text))
        )
    for conversation, pending in conversations_and_responses:
        assert wait_on_response(client, pending).status == "completed"
        assert [role for role, _ in transcript(client, conversation)] == ["user", "assistant"]
    last = conversations_and_responses[-1][0]
    wait_on_response(client, submit_message(client, last, "Thank you!"))
    assert [text for _, text in transcript(client, last)][-2:] == [
        "Thank you!",
        '[Assistant] You said: "Thank you!"',
    ]

    # Functions: the tutor shows a quiz; the app answers with the student's responses.
    quiz = client.responses.create(
        **TUTOR,
        input='Make a quiz titled "Linear equations" with two questions.',
        tools=[QUIZ],
        tool_choice={"type": "function", "name": "display_quiz"},
    )
    (call,) = quiz.output
    assert call.type == "function_call" and call.name == "display_quiz"
    assert json.loads(call.arguments) == {"title": "Linear equations"}
    answered = client.responses.create(
        **TUTOR,
        previous_response_id=quiz.id,
        tools=[QUIZ],
        input=[
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": json.dumps({"responses": ["x = 1", "I don't know"]}),
            }
        ],
    )
    assert (
        answered.output_text
        == "Here is what display_quiz returned: responses: x = 1, I don't know."
    )

    # Retrieval: a file in a vector store, searched by the file_search tool, cited.
    upload = client.files.create(
        file=("paper.md", b"Language models are unsupervised multitask learners."),
        purpose="assistants",
    )
    store = client.vector_stores.create(name="papers", file_ids=[upload.id])
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 1
    cited = client.responses.create(
        **TUTOR,
        input="What are language models in this paper?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
        include=["file_search_call.results"],
    )
    search, message = cited.output
    assert search.results[0].file_id == upload.id
    (citation,) = message.content[0].annotations
    assert citation.type == "file_citation" and citation.file_id == upload.id
    assert "unsupervised multitask learners" in message.content[0].text


class Verdict(BaseModel):
    answer: str


def sdk_surface(client: openai.OpenAI) -> None:
    """The rest of what an app calls: streaming, parsing, conversations and their items,
    models."""
    with client.responses.stream(**TUTOR, input="Stream the answer, please.") as stream:
        assert stream.get_final_response().output_text.endswith('"Stream the answer, please."')
    parsed = client.responses.parse(**TUTOR, input="Is 2 prime?", text_format=Verdict)
    assert parsed.output_parsed == Verdict(answer='[Assistant] You said: "Is 2 prime?"')
    conversation = client.conversations.create(items=[{"role": "user", "content": "hello"}])
    assert client.conversations.update(conversation.id, metadata={"a": "b"}).metadata == {"a": "b"}
    added = client.conversations.items.create(
        conversation.id, items=[{"role": "user", "content": "again"}]
    )
    item = client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
    assert item.content[0].text == "again"
    client.conversations.items.delete(item.id, conversation_id=conversation.id)
    assert len(client.conversations.items.list(conversation.id).data) == 1
    assert client.conversations.delete(conversation.id).deleted
    assert TUTOR["model"] in [model.id for model in client.models.list()]


def test_seed_flow_on_responses_in_process(client):
    seed_flow(client)


def test_seed_flow_on_responses_against_local_serve_without_the_assistants_api(tmp_path):
    process, url = start(tmp_path, "--indexing-delay", "0", "--without-assistants-api")
    try:
        client = openai.OpenAI(api_key="any", base_url=url, max_retries=0)
        seed_flow(client)
        sdk_surface(client)
        with pytest.raises(openai.NotFoundError):
            client.beta.assistants.list()
    finally:
        code, errors = stop(process)
    assert code == 0, errors
    assert "Traceback" not in errors
