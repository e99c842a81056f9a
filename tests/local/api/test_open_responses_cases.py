"""The cases of the Open Responses compliance suite (basic text, streaming, system prompt, tool
calling plain and streamed, image input, multi-turn), sent as raw JSON over HTTP and checked
against the specification's required response fields and the SDK's types.

One difference is the deterministic engine's documented rule for string arguments: it reads a
location from a quoted phrase, so the tool-calling question quotes the city.
"""

from __future__ import annotations

import httpx2
import pytest

from ..tools import sse_events, strict_event, strict_response

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state"},
        },
        "required": ["location"],
    },
}
WEATHER_QUESTION = 'What\'s the weather like in "San Francisco, CA"?'
RED_PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Dw"
    "HwAFAAH/e+m+7wAAAABJRU5ErkJggg=="
)
CASES = {
    "basic-response": {
        "input": [{"type": "message", "role": "user", "content": "Say hello in exactly 3 words."}]
    },
    "system-prompt": {
        "input": [
            {"type": "message", "role": "system", "content": "You are a pirate."},
            {"type": "message", "role": "user", "content": "Say hello."},
        ]
    },
    "tool-calling": {
        "input": [{"type": "message", "role": "user", "content": WEATHER_QUESTION}],
        "tools": [WEATHER],
    },
    "image-input": {
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What do you see in this image?"},
                    {"type": "input_image", "image_url": RED_PIXEL},
                ],
            }
        ]
    },
    "multi-turn": {
        "input": [
            {"type": "message", "role": "user", "content": "My name is Alice."},
            {"type": "message", "role": "assistant", "content": "Hello Alice!"},
            {"type": "message", "role": "user", "content": "What is my name?"},
        ]
    },
}


@pytest.fixture
def http(local_server):
    with httpx2.Client(base_url=local_server.base_url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_answers_a_complete_response(http, case):
    answer = http.post("/responses", json={"model": "gpt-4o-mini", **CASES[case]})
    assert answer.status_code == 200, answer.text
    response = strict_response(answer.json())
    assert response.status == "completed" and response.output
    if case == "tool-calling":
        (call,) = response.output
        assert call.type == "function_call" and call.arguments == '{"location":"San Francisco, CA"}'
    if case == "multi-turn":
        assert response.output_text == '[Assistant] You said: "What is my name?"'


@pytest.mark.parametrize("case", ["basic-response", "tool-calling"])
def test_case_streams_typed_events(http, case):
    answer = http.post("/responses", json={"model": "gpt-4o-mini", **CASES[case], "stream": True})
    assert answer.status_code == 200
    events = [strict_event(event) for event in sse_events(answer)]
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert events[-1].response.status == "completed"
    if case == "tool-calling":
        kinds = [event.type for event in events]
        assert "response.function_call_arguments.delta" in kinds
        assert "response.function_call_arguments.done" in kinds
        added = [e for e in events if e.type == "response.output_item.added"]
        done = [e for e in events if e.type == "response.output_item.done"]
        assert added[0].item.type == done[0].item.type == "function_call"
