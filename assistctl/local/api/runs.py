"""``/v1/threads/{thread_id}/runs``, ``/v1/threads/runs`` and run steps: requests validated
as the API does, answered as JSON or, with ``stream``, as server-sent events."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistctl.local.api.assistants import validate_response_format, validate_tools
from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.streaming import event_stream, frame, frames, sse_response
from assistctl.local.api.threads import parse_message, parse_thread
from assistctl.local.api.tool_resources import parse_tool_resources
from assistctl.local.api.validation import (
    REASONING_EFFORTS,
    expect_type,
    one_of,
    optional_integer,
    optional_number,
    optional_string,
    reject_unknown,
    require,
    validate_metadata,
)
from assistctl.local.domain import (
    Account,
    ApiObject,
    Emit,
    InvalidRequest,
    Lease,
    RunRequest,
    pending_call_ids,
    public,
    run_tools,
)

POLL_AFTER_MS = 100
MAX_RUN_TOOLS = 20
MIN_TOKEN_LIMIT = 256
MAX_INSTRUCTIONS = 256_000
SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
RUN_FIELDS = (
    "assistant_id",
    "model",
    "reasoning_effort",
    "instructions",
    "additional_instructions",
    "additional_messages",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "stream",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
)
THREAD_AND_RUN_FIELDS = tuple(
    f for f in RUN_FIELDS if f not in ("additional_instructions", "additional_messages")
) + ("thread", "tool_resources")


# --- validation ----------------------------------------------------------------------------


def include_content(request: Request) -> bool:
    """Whether ``include[]`` asks for the content of file-search results in steps."""
    values = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    for value in values:
        one_of(value, "include", (SEARCH_CONTENT,))
    return SEARCH_CONTENT in values


def parse_run(account: Account, body: Body, include: bool) -> RunRequest:
    """A run request; the assistant it names must exist (its 404 comes before the other
    fields are judged, as the API does)."""
    assistant_id = require(body, "assistant_id")
    expect_type(assistant_id, str, "assistant_id", "a string")
    assistant = account.assistants.get(assistant_id)
    model = optional_string(body, "model")
    instructions = body.get("instructions")
    if instructions is not None:
        instructions = optional_string(body, "instructions", MAX_INSTRUCTIONS) or ""
    additional = optional_string(body, "additional_instructions", MAX_INSTRUCTIONS)
    tools = None
    if body.get("tools") is not None:
        tools = validate_tools(body["tools"])
        if len(tools) > MAX_RUN_TOOLS:
            raise InvalidRequest(
                f"Invalid 'tools': array too long. Expected an array with maximum length "
                f"{MAX_RUN_TOOLS}, but got an array with length {len(tools)} instead.",
                param="tools",
            )
    temperature = optional_number(body, "temperature", 0, 2)
    top_p = optional_number(body, "top_p", 0, 1)
    response_format = None
    if body.get("response_format") is not None:
        response_format = validate_response_format(body["response_format"])
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        expect_type(parallel, bool, "parallel_tool_calls", "a boolean")
    stream = body.get("stream")
    if stream is not None:
        expect_type(stream, bool, "stream", "a boolean")
    metadata = validate_metadata(body.get("metadata"))
    max_prompt_tokens = optional_integer(body, "max_prompt_tokens", MIN_TOKEN_LIMIT)
    max_completion_tokens = optional_integer(body, "max_completion_tokens", MIN_TOKEN_LIMIT)
    truncation_strategy = _truncation_strategy(body.get("truncation_strategy"))
    tool_choice = _tool_choice(body.get("tool_choice"), run_tools(assistant, tools))
    reasoning_effort = None
    if body.get("reasoning_effort") is not None:
        reasoning_effort = one_of(body["reasoning_effort"], "reasoning_effort", REASONING_EFFORTS)
    return RunRequest(
        assistant=assistant,
        model=model,
        instructions=instructions,
        additional_instructions=additional,
        tools=tools,
        temperature=temperature,
        top_p=top_p,
        response_format=response_format,
        parallel_tool_calls=parallel,
        metadata=metadata,
        max_prompt_tokens=max_prompt_tokens,
        max_completion_tokens=max_completion_tokens,
        truncation_strategy=truncation_strategy,
        tool_choice=tool_choice,
        reasoning_effort=reasoning_effort,
        include_search_content=include,
    )


def parse_tool_outputs(outputs: list[Any], pending: list[str]) -> dict[str, str]:
    """``tool_outputs`` by call id: one for each call the run waits for, and no other."""
    submitted: dict[str, str] = {}
    for index, item in enumerate(outputs):
        where = f"tool_outputs[{index}]"
        expect_type(item, dict, where, "an object")
        call_id = item.get("tool_call_id")
        if call_id is None:
            raise InvalidRequest(
                f"Missing required parameter: '{where}.tool_call_id'.",
                param=f"{where}.tool_call_id",
            )
        expect_type(call_id, str, f"{where}.tool_call_id", "a string")
        output = item.get("output", "")
        expect_type(output, str, f"{where}.output", "a string")
        if call_id not in pending:
            raise InvalidRequest(f"Invalid tool_call_id: {call_id}", param=f"{where}.tool_call_id")
        if call_id in submitted:
            raise InvalidRequest(
                f"Duplicate tool_call_id: {call_id}", param=f"{where}.tool_call_id"
            )
        submitted[call_id] = output
    if any(call_id not in submitted for call_id in pending):
        raise InvalidRequest(
            f"Expected tool outputs for call_ids {pending}, got {list(submitted)}",
            param="tool_outputs",
        )
    return submitted


def _truncation_strategy(value: Any) -> Body:
    if value is None:
        return {"type": "auto", "last_messages": None}
    expect_type(value, dict, "truncation_strategy", "an object")
    kind = one_of(value.get("type"), "truncation_strategy.type", ("auto", "last_messages"))
    last = value.get("last_messages")
    if kind == "last_messages":
        if last is None:
            raise InvalidRequest(
                "Missing required parameter: 'truncation_strategy.last_messages'.",
                param="truncation_strategy.last_messages",
            )
        expect_type(last, int, "truncation_strategy.last_messages", "an integer")
        if last < 1:
            raise InvalidRequest(
                "Invalid 'truncation_strategy.last_messages': integer below minimum value. "
                f"Expected a value >= 1, but got {last} instead.",
                param="truncation_strategy.last_messages",
            )
    return {"type": kind, "last_messages": last if kind == "last_messages" else None}


def _tool_choice(value: Any, tools: list[Body]) -> Any:
    if value is None:
        return "auto"
    if isinstance(value, str):
        return one_of(value, "tool_choice", ("none", "auto", "required"))
    expect_type(value, dict, "tool_choice", "a string or an object")
    kind = one_of(
        value.get("type"), "tool_choice.type", ("function", "file_search", "code_interpreter")
    )
    if kind == "function":
        name = (value.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise InvalidRequest(
                "Missing required parameter: 'tool_choice.function.name'.",
                param="tool_choice.function.name",
            )
        names = {t["function"]["name"] for t in tools if t.get("type") == "function"}
        if name not in names:
            raise InvalidRequest(
                f"Invalid value for 'tool_choice': function '{name}' is not one of the run's "
                "tools.",
                param="tool_choice",
            )
        return {"type": "function", "function": {"name": name}}
    if not any(t.get("type") == kind for t in tools):
        raise InvalidRequest(
            f"Invalid value for 'tool_choice': the run has no {kind} tool.", param="tool_choice"
        )
    return {"type": kind}


# --- endpoints ---------------------------------------------------------------------------


def _run_response(run: ApiObject) -> JSONResponse:
    """The run, with ``openai-poll-after-ms`` so the SDK polls every 100 ms, not every second."""
    return JSONResponse(public(run), headers={"openai-poll-after-ms": str(POLL_AFTER_MS)})


def _launch(
    account: Account, run: ApiObject, lease: Lease, stream: bool, prelude: list[bytes]
) -> Response:
    """Execute a queued run this replica holds: in the background (answering with the run)
    or in the streaming response's worker."""
    if not stream:
        account.runs.start(lease)
        return _run_response(run)

    def work(emit: Emit) -> None:
        account.runs.execute(lease, emit)

    queued = frame("thread.run.queued", public(run))
    return sse_response(event_stream([*prelude, queued], work))


def create_run(request: Request, body: Body) -> Response:
    reject_unknown(body, RUN_FIELDS)
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    include = include_content(request)
    with account.transaction():
        account.threads.get(thread_id)
        account.runs.refuse_if_active(thread_id)
        run = account.runs.new(thread_id, parse_run(account, body, include))
        additional = body.get("additional_messages")
        if additional is not None:
            expect_type(additional, list, "additional_messages", "an array")
            for index, message in enumerate(additional):
                where = f"additional_messages[{index}]"
                account.threads.add_message(thread_id, parse_message(account, message, where))
        lease = account.runs.enqueue(run)
    prelude = [frame("thread.run.created", public(run))]
    return _launch(account, run, lease, bool(body.get("stream")), prelude)


def create_thread_and_run(request: Request, body: Body) -> Response:
    reject_unknown(body, THREAD_AND_RUN_FIELDS)
    account = account_of(request)
    include = include_content(request)
    thread_body = body.get("thread")
    if thread_body is not None:
        expect_type(thread_body, dict, "thread", "an object")
    # Validate the run before creating anything, so a bad request leaves no thread behind.
    run_request = parse_run(account, body, include)
    resources = parse_tool_resources(account, body.get("tool_resources"))
    thread_spec = parse_thread(account, thread_body or {})
    thread, run, lease = account.runs.create_thread_and_run(run_request, resources, thread_spec)
    prelude = [
        frame("thread.created", public(thread)),
        frame("thread.run.created", public(run)),
    ]
    return _launch(account, run, lease, bool(body.get("stream")), prelude)


def list_runs(request: Request, body: Body) -> Body:
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    account.threads.get(thread_id)
    return account.runs.page(thread_id, page_request(request))


def retrieve_run(request: Request, body: Body) -> Response:
    params = request.path_params
    return _run_response(account_of(request).runs.get(params["thread_id"], params["run_id"]))


def modify_run(request: Request, body: Body) -> Body:
    reject_unknown(body, ("metadata",))
    account = account_of(request)
    params = request.path_params
    with account.transaction():
        run = account.runs.get(params["thread_id"], params["run_id"])
        metadata = validate_metadata(body["metadata"]) if "metadata" in body else None
        return public(account.runs.set_metadata(run, metadata))


def cancel_run(request: Request, body: Body) -> Response:
    params = request.path_params
    return _run_response(account_of(request).runs.cancel(params["thread_id"], params["run_id"]))


def submit_tool_outputs(request: Request, body: Body) -> Response:
    reject_unknown(body, ("tool_outputs", "stream"))
    account = account_of(request)
    params = request.path_params
    outputs = require(body, "tool_outputs")
    expect_type(outputs, list, "tool_outputs", "an array")
    stream = body.get("stream")
    if stream is not None:
        expect_type(stream, bool, "stream", "a boolean")
    with account.transaction():
        run = account.runs.awaiting_tool_outputs(params["thread_id"], params["run_id"])
        submitted = parse_tool_outputs(outputs, pending_call_ids(run))
        events, lease = account.runs.accept_tool_outputs(run, submitted)
    return _launch(account, run, lease, bool(stream), frames(events))


def list_steps(request: Request, body: Body) -> Body:
    account = account_of(request)
    params = request.path_params
    include = include_content(request)
    run = account.runs.get(params["thread_id"], params["run_id"])
    return account.runs.steps_page(run, page_request(request), include)


def retrieve_step(request: Request, body: Body) -> Body:
    account = account_of(request)
    params = request.path_params
    include = include_content(request)
    run = account.runs.get(params["thread_id"], params["run_id"])
    return account.runs.step(run, params["step_id"], include)


def routes() -> list[Route]:
    base = "/v1/threads/{thread_id}/runs"
    run_path = base + "/{run_id}"
    return [
        Route("/v1/threads/runs", endpoint(create_thread_and_run), methods=["POST"]),
        Route(base, endpoint(create_run), methods=["POST"]),
        Route(base, endpoint(list_runs), methods=["GET"]),
        Route(run_path, endpoint(retrieve_run), methods=["GET"]),
        Route(run_path, endpoint(modify_run), methods=["POST"]),
        Route(run_path + "/cancel", endpoint(cancel_run), methods=["POST"]),
        Route(run_path + "/submit_tool_outputs", endpoint(submit_tool_outputs), methods=["POST"]),
        Route(run_path + "/steps", endpoint(list_steps), methods=["GET"]),
        Route(run_path + "/steps/{step_id}", endpoint(retrieve_step), methods=["GET"]),
    ]
