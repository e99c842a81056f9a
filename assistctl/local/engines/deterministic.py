"""The deterministic engine: answers runs from fixed rules, documented in the README (How the
local account answers runs), so smoke tests and quickstarts give the same result on every
machine, with no model."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assistctl.local.engines.answer_formats import format_answer
from assistctl.local.engines.contract import (
    ActionRequired,
    Answer,
    Citation,
    CodeInterpreterCall,
    CodeSession,
    ContextMessage,
    Failure,
    FunctionCall,
    Outcome,
    RunInput,
    Search,
    SearchResult,
    ServerToolCall,
    Usage,
    count_tokens,
)
from assistctl.local.engines.file_search import display_filename, search_files
from assistctl.local.engines.schemas import as_text, first_mentioned, schema_type

FAIL_WORD = "FAIL_RUN"
GENERIC_VERBS = frozenset(
    {"get", "set", "list", "find", "create", "update", "delete", "lookup", "fetch", "check"}
)
DESCRIPTION_STOPWORDS = frozenset(
    {
        "about", "after", "also", "been", "before", "from", "given", "have", "into", "more",
        "only", "other", "return", "returns", "some", "such", "than", "that", "their", "them",
        "then", "there", "these", "this", "those", "user", "using", "value", "what", "when",
        "where", "which", "will", "with", "your",
    }
)  # fmt: skip
QUOTE_LIMIT = 400
CITATION_MARKER = "【{step}:{result}†source】"
PYTHON_TAGS = ("", "python", "py", "python3", "ipython")
LISTED_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "o4-mini",
)  # what GET /v1/models lists; any other name is answered the same way

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”")
_FENCE = re.compile(r"```([^\n`]*)\n(.*?)```", re.DOTALL)
_EDGE_PUNCTUATION = "\"'“”‘’.,;:!?()[]{}<>#"
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_TOKEN = re.compile(r"[^\s]+")
_SENTENCE_END = (".", "!", "?", ":")


def last_user_text(messages: Sequence[ContextMessage]) -> str | None:
    for message in reversed(messages):
        if message.role == "user":
            return message.text
    return None


# --- tool outputs as prose and facts (rule 2) ------------------------------------------------


def flatten_output(output: str) -> str:
    """A tool output as prose: JSON objects become ``key: value`` pairs, strings stay verbatim."""
    try:
        value = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return output.strip()
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in _pairs(value, ""))
    return as_text(value)


def output_facts(output: str) -> dict[str, Any]:
    """The flattened ``key -> value`` facts of a JSON object output (empty otherwise)."""
    try:
        value = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return {}
    if not isinstance(value, dict):
        return {}
    facts: dict[str, Any] = {}
    for key, item in _leaves(value, ""):
        facts[key] = item
        facts.setdefault(key.rsplit(".", 1)[-1], item)
    return facts


def _leaves(value: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            yield from _leaves(item, name)
        else:
            yield name, item


def _pairs(value: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for name, item in _leaves(value, prefix):
        yield name, as_text(item)


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# --- choosing and calling functions (rule 3), the engine ------------------------------------


def _normalise(word: str) -> str:
    """Lowercase, with a plural ``s`` dropped so "orders" matches "order"."""
    word = word.lower()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    return [_normalise(w) for w in _WORD.findall(text.lower())]


def name_words(name: str) -> list[str]:
    """``get_order-status`` / ``getOrderStatus`` → ``["get", "order", "statu"]`` (normalised)."""
    return words(_CAMEL.sub(r"\1 \2", name).replace("_", " ").replace("-", " "))


def _raw_tokens(text: str) -> list[str]:
    return [token.strip(_EDGE_PUNCTUATION) for token in text.split()]


@dataclass(frozen=True)
class _Candidate:
    function: dict[str, Any]
    name_hits: int
    description_hits: int


def rank_functions(functions: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    """Functions the message asks for, best first (rule 1 of the documented engine)."""
    message_words = set(words(message))
    scored = []
    for function in functions:
        specific = {w for w in name_words(function.get("name", "")) if w not in GENERIC_VERBS}
        keywords = {
            w
            for w in words(function.get("description") or "")
            if len(w) >= 4 and w not in DESCRIPTION_STOPWORDS and w not in GENERIC_VERBS
        }
        scored.append(
            _Candidate(function, len(specific & message_words), len(keywords & message_words))
        )
    by_name = [c for c in scored if c.name_hits > 0]
    candidates = by_name or [c for c in scored if c.description_hits > 0]
    ranked = sorted(candidates, key=lambda c: (-c.name_hits, -c.description_hits))
    return [c.function for c in ranked]


def _is_identifier_name(name: str) -> bool:
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith(("id", "number", "code"))


def _after_name_word(tokens: list[str], name: str, accept: Callable[[str], bool]) -> str | None:
    """The first token accepted by ``accept``, preferring one right after a property-name word."""
    wanted = set(name_words(name))
    for index, token in enumerate(tokens[1:], start=1):
        if accept(token) and _normalise(tokens[index - 1]) in wanted:
            return token
    return next((token for token in tokens if accept(token)), None)


_MISSING = object()


def extract_arguments(parameters: dict[str, Any] | None, message: str) -> tuple[dict, list[str]]:
    """Arguments for a function, read from the message per its JSON Schema (rule 3); local
    ``$ref``s (``#/$defs/…``, ``#/definitions/…``) are followed.

    Returns the arguments found (in schema property order) and the required names not found.
    """
    root = parameters or {}
    parameters = resolve_ref(root, root)
    properties: dict[str, Any] = parameters.get("properties") or {}
    required = [name for name in parameters.get("required") or [] if name in properties]
    order = required + [name for name in properties if name not in required]
    tokens = [t for t in _raw_tokens(message) if t]
    quoted = [a or b for a, b in _QUOTED.findall(message)]
    unquoted = unquoted_candidates(_QUOTED.sub(" ", message))
    found: dict[str, Any] = {}
    for name in order:
        schema = resolve_ref(properties[name], root)
        value = _argument(name, schema, message, tokens, quoted, unquoted)
        if value is not _MISSING:
            found[name] = value
    missing = [name for name in required if name not in found]
    return {name: found[name] for name in properties if name in found}, missing


def unquoted_candidates(message: str) -> list[tuple[str, str]]:
    """``(word before, phrase)`` for each phrase a string argument may be when nothing is
    quoted, in message order: runs of capitalised words that do not start a sentence
    (``Miami``, ``New York``; never ``I``) and tokens with a digit (``42``, ``A-7``)."""
    found: list[tuple[str, str]] = []
    run: list[str] = []
    before = ""
    previous = ""
    sentence_start = True
    for match in _TOKEN.finditer(message):
        raw = match.group()
        token = raw.strip(_EDGE_PUNCTUATION)
        capitalised = bool(token) and token[0].isupper() and token != "I"
        if capitalised and not sentence_start and not any(c.isdigit() for c in token):
            if not run:
                before = previous
            run.append(token)
        else:
            if run:
                found.append((before, " ".join(run)))
                run = []
            if any(c.isdigit() for c in token):
                found.append((previous, token))
        if run and raw.rstrip("\"'”’)").endswith((*_SENTENCE_END, ",", ";")):
            found.append((before, " ".join(run)))
            run = []
        sentence_start = raw.rstrip("\"'”’)").endswith(_SENTENCE_END)
        previous = token
    if run:
        found.append((before, " ".join(run)))
    return found


def resolve_ref(schema: Any, root: dict[str, Any], hops: int = 8) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` (``#/…``, a JSON pointer into ``root``) followed, at
    most ``hops`` times; anything unresolvable reads as an empty schema."""
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and hops > 0:
        reference = schema["$ref"]
        if not reference.startswith("#"):
            return {}
        target: Any = root
        for step in reference[1:].split("/")[1:] if reference != "#" else []:
            step = step.replace("~1", "/").replace("~0", "~")
            target = target.get(step) if isinstance(target, dict) else None
        schema, hops = target, hops - 1
    return schema if isinstance(schema, dict) and "$ref" not in schema else {}


def _argument(
    name: str,
    schema: dict[str, Any],
    message: str,
    tokens: list[str],
    quoted: list[str],
    unquoted: list[tuple[str, str]],
) -> Any:
    if schema.get("enum"):
        value = first_mentioned(schema["enum"], message)
        return _MISSING if value is None else value
    kind = schema_type(schema)
    if kind in ("integer", "number"):
        token = _after_name_word(tokens, name, lambda t: bool(_NUMBER.match(t)))
        if token is None:
            return _MISSING
        number = float(token)
        if kind == "integer":
            return int(number)
        return int(number) if number.is_integer() and "." not in token else number
    if kind == "boolean":
        return set(name_words(name)) <= set(words(message))
    if kind == "string":
        if _is_identifier_name(name):
            token = _after_name_word(tokens, name, lambda t: any(c.isdigit() for c in t))
            return _MISSING if token is None else token
        if quoted:
            return quoted.pop(0)
        if not unquoted:
            return _MISSING
        wanted = set(name_words(name))
        chosen = next((c for c in unquoted if _normalise(c[0]) in wanted), unquoted[0])
        unquoted.remove(chosen)
        return chosen[1]
    return _MISSING


class DeterministicEngine:
    """Rule-based answers, documented in the README: the same input gives the same run (or
    response)."""

    def model_names(self) -> tuple[str, ...]:
        return LISTED_MODELS

    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
        on_tool_call: Callable[[ServerToolCall], None] | None = None,
        code: CodeSession | None = None,
    ) -> Outcome:
        prompt = Usage(prompt_tokens=_prompt_tokens(run))
        message = last_user_text(run.messages)
        name = run.assistant_name or "Assistant"
        if message is None:
            return self._finish(run, f"[{name}] There is no user message to answer.", prompt)
        if FAIL_WORD in re.findall(r"[A-Za-z0-9_]+", message):
            return Failure(
                "server_error",
                f"The run failed because the last user message contains {FAIL_WORD} "
                "(a test hook of the local deterministic engine).",
                prompt,
            )
        answered = [e for e in run.exchanges if e.type == "function" and e.output is not None]
        if answered:
            text = " ".join(
                sentence(f"Here is what {e.name} returned: {flatten_output(e.output or '')}")
                if (e.output or "").strip()
                else f"{e.name} returned nothing."
                for e in answered
            )
            facts: dict[str, Any] = {}
            for exchange in answered:
                facts.update(_argument_facts(exchange.arguments))
                facts.update(output_facts(exchange.output or ""))
            return self._finish(run, text, prompt, facts=facts)
        call = self._function_call(run, message, new_id)
        if call is not None:
            return ActionRequired((call,), prompt + Usage(0, count_tokens(call.arguments)))
        may_use_tools = run.max_tool_calls is None or run.max_tool_calls > 0
        blocks = python_blocks(message)[: run.max_tool_calls]
        if may_use_tools and code is not None and run.tool("code_interpreter") and blocks:
            return self._run_code(run, blocks, code, new_id, on_tool_call, prompt)
        if may_use_tools and run.tool("file_search") is not None and run.vector_store_ids:
            return self._file_search(run, message, search, new_id, prompt)
        return self._finish(run, f'[{name}] You said: "{message}"', prompt)

    def _function_call(
        self, run: RunInput, message: str, new_id: Callable[[str], str]
    ) -> FunctionCall | None:
        functions = run.functions()
        choice = run.tool_choice
        if not functions or choice == "none":
            return None
        if isinstance(choice, dict) and choice.get("type") == "function":
            forced = (choice.get("function") or {}).get("name")
            chosen = next((f for f in functions if f.get("name") == forced), None)
            if chosen is None:
                return None
            arguments, _ = extract_arguments(chosen.get("parameters"), message)
            return _call(chosen, arguments, new_id)
        ranked = rank_functions(functions, message)
        for function in ranked:
            arguments, missing = extract_arguments(function.get("parameters"), message)
            if not missing:
                return _call(function, arguments, new_id)
        if choice == "required":
            function = ranked[0] if ranked else functions[0]
            arguments, _ = extract_arguments(function.get("parameters"), message)
            return _call(function, arguments, new_id)
        return None

    def _run_code(
        self,
        run: RunInput,
        blocks: list[str],
        code: CodeSession,
        new_id: Callable[[str], str],
        on_tool_call: Callable[[ServerToolCall], None] | None,
        prompt: Usage,
    ) -> Answer:
        """Rule 4: each fenced Python block runs in the code interpreter, in order; the answer
        quotes what each run gave back (its output, images and files)."""
        calls = []
        for block in blocks:
            call = CodeInterpreterCall.of(new_id("call"), block, code.run(block))
            calls.append(call)
            if on_tool_call is not None:
                on_tool_call(call)
        text = "I ran the code in the code interpreter:\n" + "\n".join(c.feedback for c in calls)
        facts = {"output": calls[-1].logs.strip(), "code": calls[-1].input}
        return self._finish(run, text, prompt, tool_calls=tuple(calls), facts=facts)

    def _file_search(
        self,
        run: RunInput,
        message: str,
        search: Search,
        new_id: Callable[[str], str],
        prompt: Usage,
    ) -> Outcome:
        call = search_files(run, new_id("call"), message, search)
        if not call.results:
            name = run.assistant_name or "Assistant"
            text = f'[{name}] I found nothing about this in the files. You said: "{message}"'
            return self._finish(run, text, prompt, tool_calls=(call,))
        best = call.results[0]
        marker = CITATION_MARKER.format(step=0, result=0)
        shown = display_filename(best.file_name)
        text = f'According to {shown}: "{trim_quote(best.text)}" {marker}'
        facts = {
            "source": shown,
            "file": shown,
            "filename": shown,
            "file_name": shown,
            "file_id": best.file_id,
            "quote": trim_quote(best.text),
        }
        return self._finish(
            run, text, prompt, tool_calls=(call,), cited=(marker, best), facts=facts
        )

    def _finish(
        self,
        run: RunInput,
        text: str,
        prompt: Usage,
        *,
        tool_calls: tuple[ServerToolCall, ...] = (),
        cited: tuple[str, SearchResult] | None = None,
        facts: dict[str, Any] | None = None,
    ) -> Answer:
        """Apply the response format and token limits, then locate the citation marker."""
        text = format_answer(run.response_format, text, facts or {})
        incomplete = None
        limit = run.max_completion_tokens
        if limit is not None and count_tokens(text) > limit:
            text = " ".join(text.split()[:limit])
            incomplete = "max_completion_tokens"
        elif run.max_prompt_tokens is not None and prompt.prompt_tokens > run.max_prompt_tokens:
            incomplete = "max_prompt_tokens"
        citations: tuple[Citation, ...] = ()
        if cited is not None:
            marker, result = cited
            start = text.find(marker)
            if start >= 0:
                end = start + len(marker)
                citations = (Citation(marker, start, end, result.file_id, result.file_name),)
        usage = prompt + Usage(0, count_tokens(text))
        return Answer(text, usage, citations, tool_calls, incomplete)


def _call(function: dict[str, Any], arguments: dict, new_id: Callable[[str], str]) -> FunctionCall:
    encoded = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    return FunctionCall(new_id("call"), function["name"], encoded)


def _argument_facts(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        return {}
    return dict(value) if isinstance(value, dict) else {}


def python_blocks(message: str) -> list[str]:
    """The code of each fenced block tagged as Python (or untagged), in message order."""
    return [
        code.strip("\n")
        for tag, code in _FENCE.findall(message)
        if tag.strip().lower() in PYTHON_TAGS and code.strip()
    ]


def _prompt_tokens(run: RunInput) -> int:
    total = count_tokens(run.instructions)
    total += sum(count_tokens(m.text) for m in run.messages)
    total += sum(count_tokens(e.output or "") for e in run.exchanges)
    return total


def trim_quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A chunk on one line, cut at a word boundary near ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "…"
