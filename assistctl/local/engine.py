"""What answers a run: the contract between the run executor and an engine, and the
deterministic engine.

The executor (``runs.py``) turns a stored run into a ``RunInput`` (instructions, tools, the
thread's messages, tool calls already answered in this run), asks an engine to ``respond``, and
records the ``Outcome``: an ``Answer`` (a message), an ``ActionRequired`` (function calls the
client must answer) or a ``Failure``. Engines never touch the store; file search reaches the
vector stores through the ``search`` callable they are given.

The deterministic engine answers from fixed rules, documented in the README (How the local
account answers runs), so smoke tests and quickstarts give the same result on every machine,
with no model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistctl.model import parse_upload_filename

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
CODE_WORDS = frozenset({"calculate", "compute"})
ANSWER_PROPERTY_NAMES = frozenset(
    {"answer", "response", "reply", "text", "message", "content", "summary", "result", "output"}
)
QUOTE_LIMIT = 400
CITATION_MARKER = "【{step}:{result}†source】"
CODE_NOT_RUN_LOG = "Code execution is not available on the local account: this code was not run."
DEFAULT_MAX_SEARCH_RESULTS = 20
REPORTED_RANKER = "default_2024_08_21"  # what the API's run steps name the ``auto`` ranker

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”")
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.DOTALL)
_EDGE_PUNCTUATION = "\"'“”‘’.,;:!?()[]{}<>#"
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


# --- the contract ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextMessage:
    """One thread message as the engine sees it: its role and its text."""

    role: str
    text: str


@dataclass(frozen=True)
class ToolExchange:
    """A tool call made earlier in this run and what it returned (``None``: not answered yet).

    ``arguments`` is the function's JSON arguments, the file-search query or the code.
    """

    id: str
    type: str
    name: str
    arguments: str
    output: str | None


@dataclass(frozen=True)
class RunInput:
    """Everything an engine may use to answer one run (already resolved by the executor)."""

    assistant_name: str | None
    model: str
    instructions: str
    tools: tuple[dict[str, Any], ...]
    messages: tuple[ContextMessage, ...]
    vector_store_ids: tuple[str, ...] = ()
    exchanges: tuple[ToolExchange, ...] = ()
    tool_choice: Any = None
    response_format: Any = None
    temperature: float | None = None
    top_p: float | None = None
    max_completion_tokens: int | None = None
    max_prompt_tokens: int | None = None
    parallel_tool_calls: bool = True

    def tool(self, type: str) -> dict[str, Any] | None:
        return next((t for t in self.tools if t.get("type") == type), None)

    def functions(self) -> list[dict[str, Any]]:
        return [t["function"] for t in self.tools if t.get("type") == "function"]


class SearchHitLike(Protocol):
    file_id: str
    filename: str
    vector_store_id: str
    text: str
    score: float


Search = Callable[[list[str], str, int], Sequence[SearchHitLike]]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def body(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class SearchResult:
    file_id: str
    file_name: str
    score: float
    text: str


@dataclass(frozen=True)
class FileSearchCall:
    """A file search the engine ran; ``output`` is what it fed back to the model, if any."""

    id: str
    query: str
    results: tuple[SearchResult, ...]
    ranking_options: dict[str, Any]
    output: str = ""

    def exchange(self) -> ToolExchange:
        return ToolExchange(self.id, "file_search", "file_search", self.query, self.output)


@dataclass(frozen=True)
class CodeInterpreterCall:
    id: str
    input: str
    logs: str

    def exchange(self) -> ToolExchange:
        return ToolExchange(self.id, "code_interpreter", "code_interpreter", self.input, self.logs)


ServerToolCall = FileSearchCall | CodeInterpreterCall


@dataclass(frozen=True)
class FunctionCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Citation:
    """A ``file_citation`` annotation: ``text`` sits at ``[start_index, end_index)``."""

    text: str
    start_index: int
    end_index: int
    file_id: str


@dataclass(frozen=True)
class Answer:
    text: str
    usage: Usage
    citations: tuple[Citation, ...] = ()
    tool_calls: tuple[ServerToolCall, ...] = ()
    incomplete_reason: str | None = None


@dataclass(frozen=True)
class ActionRequired:
    function_calls: tuple[FunctionCall, ...]
    usage: Usage
    tool_calls: tuple[ServerToolCall, ...] = ()


@dataclass(frozen=True)
class Failure:
    """``code`` is one of the API's run error codes (server_error, rate_limit_exceeded, …)."""

    code: str
    message: str
    usage: Usage = field(default_factory=Usage)
    tool_calls: tuple[ServerToolCall, ...] = ()


Outcome = Answer | ActionRequired | Failure


class Engine(Protocol):
    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
    ) -> Outcome:
        """Answer ``run``; ``new_id(prefix)`` mints ids for tool calls (``call``).

        An engine that produces text progressively may pass each piece to ``on_text`` (given
        when the run is streamed); the outcome still carries the whole text. Engines that
        answer at once ignore it and the executor streams their answer in pieces.
        """
        ...


# --- small text helpers shared by the engines -------------------------------------------------


def count_tokens(text: str) -> int:
    """Tokens are whitespace-separated words: cheap, deterministic, engine-independent."""
    return len(text.split())


def last_user_text(messages: Sequence[ContextMessage]) -> str | None:
    for message in reversed(messages):
        if message.role == "user":
            return message.text
    return None


def search_files(run: RunInput, call_id: str, query: str, search: Search) -> FileSearchCall:
    """Search the run's vector stores as its ``file_search`` tool is configured: at most
    ``max_num_results`` hits, none scoring below ``score_threshold`` (nor at zero)."""
    options = (run.tool("file_search") or {}).get("file_search") or {}
    limit = options.get("max_num_results") or DEFAULT_MAX_SEARCH_RESULTS
    ranking = options.get("ranking_options") or {}
    threshold = ranking.get("score_threshold") or 0.0
    ranker = ranking.get("ranker", "auto")
    hits = search(list(run.vector_store_ids), query, limit)
    results = tuple(
        SearchResult(h.file_id, h.filename, h.score, h.text)
        for h in hits
        if h.score > 0 and h.score >= threshold
    )
    reported = {
        "ranker": REPORTED_RANKER if ranker == "auto" else ranker,
        "score_threshold": threshold,
    }
    return FileSearchCall(call_id, query, results, reported)


def with_citation_marker(text: str, marker: str) -> tuple[str, int]:
    """``text`` with ``marker`` appended after a space, and where the marker starts."""
    return f"{text} {marker}", len(text) + 1


def flatten_output(output: str) -> str:
    """A tool output as prose: JSON objects become ``key: value`` pairs, strings stay verbatim."""
    try:
        value = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return output.strip()
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in _pairs(value, ""))
    return _scalar(value)


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
        yield name, _scalar(item)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_scalar(v) for v in value)
    return json.dumps(value, ensure_ascii=False)


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# --- the deterministic engine -----------------------------------------------------------------


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


def _schema_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        for branch in schema.get("anyOf") or schema.get("oneOf") or []:
            if isinstance(branch, dict) and branch.get("type") not in (None, "null"):
                return _schema_type(branch)
    return kind


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


def _enum_value(options: list[Any], message: str) -> Any:
    lowered = message.lower()
    found = []
    for option in options:
        match = re.search(
            r"(?<![a-z0-9])" + re.escape(str(option).lower()) + r"(?![a-z0-9])", lowered
        )
        if match:
            found.append((match.start(), option))
    return min(found, key=lambda item: item[0])[1] if found else None


_MISSING = object()


def extract_arguments(parameters: dict[str, Any] | None, message: str) -> tuple[dict, list[str]]:
    """Arguments for a function, read from the message per its JSON Schema (rule 1).

    Returns the arguments found (in schema property order) and the required names not found.
    """
    parameters = parameters or {}
    properties: dict[str, Any] = parameters.get("properties") or {}
    required = [name for name in parameters.get("required") or [] if name in properties]
    order = required + [name for name in properties if name not in required]
    tokens = [t for t in _raw_tokens(message) if t]
    quoted = [a or b for a, b in _QUOTED.findall(message)]
    found: dict[str, Any] = {}
    for name in order:
        schema = properties[name] if isinstance(properties[name], dict) else {}
        value = _argument(name, schema, message, tokens, quoted)
        if value is not _MISSING:
            found[name] = value
    missing = [name for name in required if name not in found]
    return {name: found[name] for name in properties if name in found}, missing


def _argument(
    name: str, schema: dict[str, Any], message: str, tokens: list[str], quoted: list[str]
) -> Any:
    if schema.get("enum"):
        value = _enum_value(schema["enum"], message)
        return _MISSING if value is None else value
    kind = _schema_type(schema)
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
        return quoted.pop(0) if quoted else _MISSING
    return _MISSING


class DeterministicEngine:
    """Rule-based answers, documented in the README: the same input gives the same run."""

    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
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
        if run.tool("code_interpreter") is not None and _asks_for_code(message):
            fence = _FENCE.search(message)
            code = fence.group(1).strip() if fence else message
            ci_call = CodeInterpreterCall(new_id("call"), code, CODE_NOT_RUN_LOG)
            text = (
                "I cannot run code here: code execution is not available on the local account, "
                "so the code_interpreter call was recorded but nothing was executed."
            )
            return self._finish(run, text, prompt, tool_calls=(ci_call,))
        if run.tool("file_search") is not None and run.vector_store_ids:
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
            run, text, prompt, tool_calls=(call,), cited=(marker, best.file_id), facts=facts
        )

    def _finish(
        self,
        run: RunInput,
        text: str,
        prompt: Usage,
        *,
        tool_calls: tuple[ServerToolCall, ...] = (),
        cited: tuple[str, str] | None = None,
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
            marker, file_id = cited
            start = text.find(marker)
            if start >= 0:
                citations = (Citation(marker, start, start + len(marker), file_id),)
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


def _asks_for_code(message: str) -> bool:
    return "```" in message or bool(CODE_WORDS & set(words(message)))


def _prompt_tokens(run: RunInput) -> int:
    total = count_tokens(run.instructions)
    total += sum(count_tokens(m.text) for m in run.messages)
    total += sum(count_tokens(e.output or "") for e in run.exchanges)
    return total


def display_filename(filename: str) -> str:
    """The name a person would recognise: uploads by assistctl carry ownership in their name."""
    parsed = parse_upload_filename(filename)
    return parsed[2] if parsed else filename


def trim_quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A chunk on one line, cut at a word boundary near ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "…"


# --- structured answers (rule 5) ---------------------------------------------------------------


def format_answer(response_format: Any, text: str, facts: dict[str, Any]) -> str:
    """``text`` as the response format asks: as is, a JSON object, or a json_schema instance."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return json.dumps({"answer": text, **_plain_facts(facts)}, ensure_ascii=False)
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        instance = schema_instance(schema, schema, facts, text, None)
        return json.dumps(instance, ensure_ascii=False)
    return text


def _plain_facts(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if "." not in k and k != "answer"}


def _fact(facts: dict[str, Any], name: str | None) -> Any:
    if name is None:
        return _MISSING
    if name in facts:
        return facts[name]
    lowered = name.lower()
    for key, value in facts.items():
        if key.lower() == lowered:
            return value
    return _MISSING


def schema_instance(
    schema: Any, root: dict[str, Any], facts: dict[str, Any], answer: str, name: str | None
) -> Any:
    """An instance of ``schema``: facts by property name, the answer in answer-like strings,
    type defaults elsewhere. Required properties are always present."""
    if not isinstance(schema, dict):
        return None
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/"):
        target: Any = root
        for part in reference[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return schema_instance(target, root, facts, answer, name)
    if "const" in schema:
        return schema["const"]
    fact = _fact(facts, name)
    if schema.get("enum"):
        options = schema["enum"]
        if fact is not _MISSING and fact in options:
            return fact
        mentioned = _enum_value(options, answer)
        return mentioned if mentioned is not None else options[0]
    kind = _schema_type(schema)
    if kind is None:
        for branch in schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf") or []:
            return schema_instance(branch, root, facts, answer, name)
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        result = {}
        for key, sub in properties.items():
            if key in required or _fact(facts, key) is not _MISSING:
                result[key] = schema_instance(sub, root, facts, answer, key)
        return result
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [schema_instance(schema.get("items") or {}, root, facts, answer, None)] * count
    if kind == "string":
        if fact is not _MISSING:
            return fact if isinstance(fact, str) else _scalar(fact)
        if name is None or name.lower() in ANSWER_PROPERTY_NAMES:
            return answer
        return ""
    if kind in ("integer", "number"):
        converted = _number_fact(fact, kind)
        if converted is not None:
            return converted
        minimum = schema.get("minimum")
        return minimum if isinstance(minimum, int | float) and minimum > 0 else 0
    if kind == "boolean":
        return fact if isinstance(fact, bool) else False
    return None


def _number_fact(fact: Any, kind: str) -> int | float | None:
    if fact is _MISSING or isinstance(fact, bool):
        return None
    try:
        number = float(fact)
    except (TypeError, ValueError):
        return None
    if kind == "integer":
        return int(number) if number.is_integer() else None
    return int(number) if number.is_integer() else number
