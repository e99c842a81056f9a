"""Assistants: model, instructions, tools and the vector stores and files their tools use.

The spec is normalised so that server defaults never show as changes: ``temperature`` and
``top_p`` 1.0, ``response_format`` ``auto``, file_search ``ranking_options`` equal to the
default (including the API's ``default_2024_08_21`` ranker), ``max_num_results`` left to the
server, function ``strict`` false, and tools in one order (file_search, code_interpreter, then
functions by name). References are logical names (vector stores) and manifest paths (files).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml
from jsonschema import Draft202012Validator

from assistctl.errors import format_field
from assistctl.kinds.base import (
    BuildContext,
    ExportContext,
    ExportedDocument,
    FieldPath,
    NamedKind,
    PlanContext,
    user_metadata,
)
from assistctl.kinds.file import LiveUpload, one_per_content, unique_by_path, upload_path
from assistctl.model import (
    Address,
    Change,
    DesiredFile,
    DesiredResource,
    LiveResource,
    Operation,
    Ref,
    Spec,
    Verb,
)

MAX_CODE_INTERPRETER_FILES = 20
MAX_INSTRUCTIONS_CHARS = 256_000
DEFAULT_RANKING_OPTIONS: Mapping[str, Any] = {"ranker": "auto", "score_threshold": 0.0}
# The API answers the ranker ``auto`` resolved to, which today is always this one.
AUTO_RANKERS = frozenset({"auto", "default_2024_08_21"})
# Instructions longer than this many lines (or characters) are exported to prompts/NAME.md.
INLINE_INSTRUCTIONS_MAX_LINES = 3
INLINE_INSTRUCTIONS_MAX_CHARS = 240
_TOOL_ORDER = {"file_search": 0, "code_interpreter": 1, "function": 2}
_FLOAT_DIGITS = 6
# Settings shown, sent and exported only when they differ from their default, so that stacks
# which never name them plan exactly as before. ``tool_choice``, ``parallel_tool_calls`` and
# ``max_output_tokens`` are what the Assistants API set per run: only a release holds them.
OPTIONAL_SETTINGS: Mapping[str, Any] = {
    "reasoning_effort": None,
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_output_tokens": None,
}


def default_max_num_results(model: str | None) -> int:
    """The file_search result count the API uses when none is given (per its documentation)."""
    return 5 if (model or "").startswith("gpt-3.5") else 20


def _number(value: Any, default: float) -> float:
    return round(float(default if value is None else value), _FLOAT_DIGITS)


def _plain(value: Any) -> Any:
    """A deep copy in plain JSON types (mappings may be read-only, tuples become lists)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# --- the spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSearchTool:
    max_num_results: int | None = None
    ranking_options: Mapping[str, Any] | None = None
    type: ClassVar[str] = "file_search"

    def view(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.max_num_results is not None:
            options["max_num_results"] = self.max_num_results
        if self.ranking_options is not None:
            options["ranking_options"] = dict(self.ranking_options)
        return {"type": "file_search", "file_search": options} if options else {"type": self.type}


@dataclass(frozen=True)
class FunctionTool:
    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool = False
    type: ClassVar[str] = "function"

    def view(self) -> dict[str, Any]:
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        if self.parameters is not None:
            function["parameters"] = _plain(self.parameters)
        function["strict"] = self.strict
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class BuiltinTool:
    """``code_interpreter``, and any tool type this version does not model, kept as given."""

    type: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            key: _plain(value) for key, value in sorted({**self.options, "type": self.type}.items())
        }


Tool = FileSearchTool | FunctionTool | BuiltinTool


def tool_of(raw: Mapping[str, Any], model: str | None) -> Tool:
    kind = raw.get("type")
    if kind == "file_search":
        options = raw.get("file_search") or {}
        count = options.get("max_num_results")
        ranking = options.get("ranking_options")
        return FileSearchTool(
            None if count in (None, default_max_num_results(model)) else count,
            None if ranking is None or _ranking_is_default(ranking) else _ranking(ranking),
        )
    if kind == "function":
        function = raw.get("function") or {}
        return FunctionTool(
            name=str(function.get("name") or ""),
            description=function.get("description") or None,
            parameters=_plain(function["parameters"])
            if function.get("parameters") is not None
            else None,
            strict=bool(function.get("strict") or False),
        )
    return BuiltinTool(str(kind), {k: _plain(v) for k, v in raw.items() if k != "type"})


def _ranking(ranking: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _number(value, 0.0) if key == "score_threshold" else value
        for key, value in sorted(ranking.items())
    }


def _ranking_is_default(ranking: Mapping[str, Any]) -> bool:
    ranker = ranking.get("ranker", DEFAULT_RANKING_OPTIONS["ranker"])
    threshold = ranking.get("score_threshold", DEFAULT_RANKING_OPTIONS["score_threshold"])
    return ranker in AUTO_RANKERS and float(threshold or 0.0) == 0.0


def _tool_sort_key(tool: Tool) -> tuple[int, str]:
    name = tool.name if isinstance(tool, FunctionTool) else ""
    return (_TOOL_ORDER.get(tool.type, len(_TOOL_ORDER)), f"{tool.type}:{name}")


def _response_format(value: Any) -> Any:
    if value is None or value == "auto" or value == {"type": "auto"}:
        return "auto"
    if not isinstance(value, Mapping):
        return value
    normalized = {key: _plain(item) for key, item in value.items() if item is not None}
    schema = normalized.get("json_schema")
    if isinstance(schema, dict):
        # The API answers every optional field (description: null, strict: null ≡ false).
        normalized["json_schema"] = {
            key: item
            for key, item in schema.items()
            if item is not None and not (key == "strict" and item is False)
        }
    return normalized


@dataclass(frozen=True)
class AssistantSpec:
    """An assistant in manifest terms: ``vector_stores`` are logical names,
    ``code_interpreter_files`` manifest paths (each sorted)."""

    name: str | None
    model: str | None
    description: str | None = None
    instructions: str | None = None
    tools: tuple[Tool, ...] = ()
    vector_stores: tuple[str, ...] = ()
    code_interpreter_files: tuple[str, ...] = ()
    temperature: float = 1.0
    top_p: float = 1.0
    response_format: Any = "auto"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    reasoning_effort: str | None = None
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = None

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> AssistantSpec:
        """A normalised spec from a view-shaped mapping: every key optional, defaults filled,
        ordering noise removed (``of(x).view()`` is idempotent)."""
        model = view.get("model")
        resources = view.get("tool_resources") or {}
        return cls(
            name=view.get("name"),
            model=model,
            description=view.get("description") or None,
            instructions=view.get("instructions") or None,
            tools=tuple(
                sorted((tool_of(t, model) for t in view.get("tools") or ()), key=_tool_sort_key)
            ),
            vector_stores=tuple(
                sorted((resources.get("file_search") or {}).get("vector_stores") or ())
            ),
            code_interpreter_files=tuple(
                sorted((resources.get("code_interpreter") or {}).get("files") or ())
            ),
            temperature=_number(view.get("temperature"), cls.temperature),
            top_p=_number(view.get("top_p"), cls.top_p),
            response_format=_response_format(view.get("response_format")),
            metadata=user_metadata(view.get("metadata")),
            reasoning_effort=view.get("reasoning_effort") or None,
            tool_choice=_plain(view.get("tool_choice") or "auto"),
            parallel_tool_calls=view.get("parallel_tool_calls") is not False,
            max_output_tokens=view.get("max_output_tokens"),
        )

    def tool_resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = {}
        if self.vector_stores:
            resources["file_search"] = {"vector_stores": list(self.vector_stores)}
        if self.code_interpreter_files:
            resources["code_interpreter"] = {"files": list(self.code_interpreter_files)}
        return resources

    def view(self) -> dict[str, Any]:
        view = {
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "instructions": self.instructions,
            "tools": [tool.view() for tool in self.tools],
            "tool_resources": self.tool_resources(),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "response_format": _plain(self.response_format),
            "metadata": dict(self.metadata),
        }
        for key, default in OPTIONAL_SETTINGS.items():
            if getattr(self, key) != default:
                view[key] = _plain(getattr(self, key))
        return view


def vector_store_ids(data: Mapping[str, Any]) -> list[str]:
    """The vector stores an assistant's API object searches (``tool_resources.file_search``)."""
    resources = data.get("tool_resources") or {}
    return list((resources.get("file_search") or {}).get("vector_store_ids") or ())


def code_interpreter_file_ids(data: Mapping[str, Any]) -> list[str]:
    """The uploads an assistant's API object gives its code interpreter."""
    resources = data.get("tool_resources") or {}
    return list((resources.get("code_interpreter") or {}).get("file_ids") or ())


# --- the kind -------------------------------------------------------------------------------


class AssistantKind(NamedKind):
    name: ClassVar[str] = "assistant"
    manifest_kind: ClassVar[str | None] = "Assistant"
    noun: ClassVar[str] = "assistant"
    collection: ClassVar[str] = "assistants"
    depends_on: ClassVar[tuple[str, ...]] = ("file", "vector_store")

    # --- manifests

    def spec_of(self, view: Mapping[str, Any], files: Sequence[DesiredFile] = ()) -> AssistantSpec:
        return AssistantSpec.of(view)

    def build(self, context: BuildContext) -> DesiredResource | None:
        spec = context.spec
        instructions = self._instructions(context)
        tools = self._tools(context)
        tool_types = {tool["type"] for tool in tools}
        resources_spec = spec.get("tool_resources", {})
        stores = resources_spec.get("file_search", {}).get("vector_stores", [])
        declared = context.declared("VectorStore")
        for index, store in enumerate(stores):
            if store not in declared:
                context.problem(
                    ("spec", "tool_resources", "file_search", "vector_stores", index),
                    f"no VectorStore named '{store}' in this stack",
                    hint=context.suggestion(store, declared, "VectorStore"),
                )
        if stores:
            self._require_tool(context, tool_types, "file_search")
        files: tuple[DesiredFile, ...] = ()
        same_content: tuple[tuple[str, str], ...] = ()
        patterns = resources_spec.get("code_interpreter", {}).get("files", [])
        if patterns:
            where: FieldPath = ("spec", "tool_resources", "code_interpreter", "files")
            expanded = context.expand_files(where, patterns)
            files, same_content = one_per_content(unique_by_path(f for _, f in expanded))
            if len(files) > MAX_CODE_INTERPRETER_FILES:
                context.problem(
                    where,
                    f"{len(files)} files; the API allows at most "
                    f"{MAX_CODE_INTERPRETER_FILES} code_interpreter files per assistant",
                )
            self._require_tool(context, tool_types, "code_interpreter")
        assistant = AssistantSpec.of(
            {
                "name": spec.get("name", context.name),
                "description": spec.get("description"),
                "model": spec["model"],
                "instructions": instructions,
                "tools": tools,
                "tool_resources": {
                    "file_search": {"vector_stores": list(stores)},
                    "code_interpreter": {"files": [f.path for f in files]},
                },
                "temperature": spec.get("temperature"),
                "top_p": spec.get("top_p"),
                "response_format": spec.get("response_format"),
                "metadata": spec.get("metadata", {}),
                **{key: spec.get(key) for key in OPTIONAL_SETTINGS},
            }
        )
        self._check_tool_choice(
            context, tool_types, {t["function"]["name"] for t in tools if t["type"] == "function"}
        )
        return DesiredResource(
            self.address(context.name), assistant, context.location, files, same_content
        )

    @staticmethod
    def _check_tool_choice(
        context: BuildContext, tool_types: set[str], functions: set[str]
    ) -> None:
        """A forced tool must be one the assistant has."""
        choice = context.spec.get("tool_choice")
        if not isinstance(choice, Mapping):
            return
        if choice.get("type") == "function" and choice.get("name") not in functions:
            context.problem(
                ("spec", "tool_choice", "name"),
                f"no function named '{choice.get('name')}' in spec.tools",
                hint=context.suggestion(str(choice.get("name")), functions, "function"),
            )
        elif choice.get("type") != "function" and choice.get("type") not in tool_types:
            context.problem(
                ("spec", "tool_choice", "type"),
                f"tool_choice forces {choice.get('type')} but the assistant has no such tool",
                hint=f"add `- type: {choice.get('type')}` to spec.tools",
            )

    @staticmethod
    def _require_tool(context: BuildContext, tool_types: set[str], tool: str) -> None:
        if tool not in tool_types:
            context.problem(
                ("spec", "tool_resources", tool),
                f"tool_resources.{tool} is set but the assistant has no {tool} tool",
                hint=f"add `- type: {tool}` to spec.tools",
            )

    @staticmethod
    def _instructions(context: BuildContext) -> str | None:
        spec = context.spec
        if "instructions" in spec and "instructions_file" in spec:
            context.problem(
                ("spec", "instructions_file"),
                "give either 'instructions' or 'instructions_file', not both",
            )
            return str(spec["instructions"])
        if "instructions_file" not in spec:
            if "instructions" not in spec:
                context.problem(
                    ("spec",),
                    "'instructions' or 'instructions_file' is required",
                    hint="instructions_file: prompts/NAME.md keeps long prompts readable in diffs",
                )
            instructions = spec.get("instructions")
            return None if instructions is None else str(instructions)
        where: FieldPath = ("spec", "instructions_file")
        text = context.read_text(where, spec["instructions_file"])
        if text is not None and len(text) > MAX_INSTRUCTIONS_CHARS:
            context.problem(
                where,
                f"{spec['instructions_file']} has {len(text):,} characters; the API allows at "
                f"most {MAX_INSTRUCTIONS_CHARS:,}",
            )
        return text

    def _tools(self, context: BuildContext) -> list[dict[str, Any]]:
        """Tools as written, with ``parameters_file`` read into ``parameters``."""
        tools: list[dict[str, Any]] = []
        seen_types: dict[str, int] = {}
        seen_functions: dict[str, int] = {}
        for index, tool in enumerate(context.spec.get("tools", [])):
            where: FieldPath = ("spec", "tools", index)
            kind = tool["type"]
            if kind != "function":
                if kind in seen_types:
                    context.problem(
                        where, f"duplicate {kind} tool (first at spec.tools[{seen_types[kind]}])"
                    )
                seen_types.setdefault(kind, index)
                tools.append(dict(tool))
                continue
            function = dict(tool["function"])
            name = function["name"]
            if name in seen_functions:
                context.problem(
                    where + ("function", "name"),
                    f"duplicate function name '{name}' "
                    f"(first at spec.tools[{seen_functions[name]}])",
                    hint="function names are unique per assistant",
                )
            seen_functions.setdefault(name, index)
            parameters = self._parameters(context, where + ("function",), function)
            function.pop("parameters_file", None)
            if parameters is not None:
                function["parameters"] = parameters
            tools.append({"type": "function", "function": function})
        return tools

    @staticmethod
    def _parameters(
        context: BuildContext, where: FieldPath, function: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if "parameters" in function and "parameters_file" in function:
            context.problem(
                where + ("parameters_file",),
                "give either 'parameters' or 'parameters_file', not both",
            )
            return None
        if "parameters" not in function and "parameters_file" not in function:
            context.problem(
                where,
                "'parameters' or 'parameters_file' is required",
                hint="e.g. parameters: {type: object, properties: {}}",
            )
            return None
        text: str | None = None
        if "parameters" in function:
            parameters, field_path = function["parameters"], where + ("parameters",)
        else:
            # Problems inside a parameters file point at the JSON file's own line.
            field_path = where + ("parameters_file",)
            given = function["parameters_file"]
            text = context.read_text(field_path, given)
            if text is None:
                return None
            used_by = f"used by {context.location.file}, {format_field(field_path)}"
            try:
                parameters = json.loads(text)
            except json.JSONDecodeError as exc:
                context.problem_in(
                    given,
                    exc.lineno,
                    "",
                    f"not valid JSON: {exc.msg} (column {exc.colno})",
                    used_by,
                )
                return None
            if not isinstance(parameters, dict):
                context.problem_in(given, 1, "", "must hold a JSON object (a JSON Schema)", used_by)
                return None
        schema_error = _schema_error(json.dumps(parameters, sort_keys=True))
        if schema_error is not None:
            inside, message = schema_error
            if "parameters" in function or text is None:
                context.problem(field_path + inside, f"not a valid JSON Schema: {message}")
            else:
                context.problem_in(
                    given,
                    _json_line(text, inside),
                    ".".join(str(part) for part in inside),
                    f"not a valid JSON Schema: {message}",
                    used_by,
                )
            return None
        if parameters.get("type") != "object":
            context.problem(
                field_path,
                "function parameters must be an object schema (type: object)",
                hint="wrap arguments in {type: object, properties: {...}}",
            )
        elif function.get("strict"):
            for message in _strict_problems(parameters, ""):
                context.problem(field_path, message, hint="strict mode needs closed schemas")
        return dict(parameters)

    # --- the account

    def file_ids(self, resource: LiveResource) -> tuple[str, ...]:
        return tuple(code_interpreter_file_ids(resource.data))

    def uses(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(vector_store_ids(data))

    def live_spec(
        self, resource: LiveResource, context: PlanContext, wanted: Spec | None
    ) -> AssistantSpec:
        """The live assistant in manifest terms (logical names, paths)."""
        data = resource.data
        store_names = {r.id: r.name for r in context.live.of_kind("vector_store")}
        uploads = {r.id: LiveUpload.of(r) for r in context.live.of_kind("file")}
        preferred = wanted.code_interpreter_files if isinstance(wanted, AssistantSpec) else ()
        spec = AssistantSpec.of(
            {
                **data,
                "tool_resources": {
                    "file_search": {
                        "vector_stores": [store_names.get(i, i) for i in vector_store_ids(data)]
                    },
                    "code_interpreter": {
                        "files": [
                            upload_path(uploads.get(i), i, context.desired, preferred)
                            for i in code_interpreter_file_ids(data)
                        ]
                    },
                },
            }
        )
        if isinstance(wanted, AssistantSpec):
            return _accept_server_file_search_options(spec, wanted)
        return spec

    # --- planning

    def references(self, resource: DesiredResource) -> tuple[Address, ...]:
        spec = resource.spec
        assert isinstance(spec, AssistantSpec)
        stores = tuple(Address("vector_store", name) for name in spec.vector_stores)
        return stores + tuple(Address("file", f.path) for f in resource.files)

    def request(self, spec: Spec, context: PlanContext) -> dict[str, Any]:
        return self._body(spec, context, None)

    def update_request(
        self, spec: Spec, live: LiveResource, context: PlanContext, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        return self._body(spec, context, live)

    def _body(self, spec: Spec, context: PlanContext, live: LiveResource | None) -> dict[str, Any]:
        assert isinstance(spec, AssistantSpec)
        updating = live is not None
        body: dict[str, Any] = {"model": spec.model}
        for key, value in (
            ("name", spec.name),
            ("description", spec.description),
            ("instructions", spec.instructions),
        ):
            if value is not None or updating:
                body[key] = value
        view = spec.view()
        body["tools"] = view["tools"]
        body["temperature"] = spec.temperature
        body["top_p"] = spec.top_p
        body["response_format"] = view["response_format"]
        for key, default in OPTIONAL_SETTINGS.items():
            live_value = live.data.get(key) if live is not None else None
            if getattr(spec, key) != default or live_value not in (None, default):
                body[key] = _plain(getattr(spec, key))
        body["metadata"] = dict(spec.metadata)
        resources = self._resolved_resources(spec, context)
        if live is not None:
            live_resources = live.data.get("tool_resources") or {}
            emptied: tuple[tuple[str, dict[str, list[str]]], ...] = (
                ("file_search", {"vector_store_ids": []}),
                ("code_interpreter", {"file_ids": []}),
            )
            for key, empty in emptied:
                if key not in resources and live_resources.get(key):
                    resources[key] = empty
        if resources:
            body["tool_resources"] = resources
        return body

    def _resolved_resources(self, spec: AssistantSpec, context: PlanContext) -> dict[str, Any]:
        """Logical names and manifest paths -> the ids they will have (``Ref``s for what this
        plan creates)."""
        resolved: dict[str, Any] = {}
        if spec.vector_stores:
            resolved["file_search"] = {
                "vector_store_ids": [
                    context.ids[Address("vector_store", name)] for name in spec.vector_stores
                ]
            }
        if spec.code_interpreter_files:
            resolved["code_interpreter"] = {
                "file_ids": [
                    context.ids[Address("file", path)] for path in spec.code_interpreter_files
                ]
            }
        return resolved

    def realign(
        self, resource: DesiredResource, live: LiveResource, change: Change, context: PlanContext
    ) -> tuple[str, list[Operation]] | None:
        spec = resource.spec
        assert isinstance(spec, AssistantSpec)
        resolved = self._resolved_resources(spec, context)
        wanted = (
            _id_set((resolved.get("file_search") or {}).get("vector_store_ids") or ()),
            _id_set((resolved.get("code_interpreter") or {}).get("file_ids") or ()),
        )
        current = (
            _id_set(vector_store_ids(live.data)),
            _id_set(code_interpreter_file_ids(live.data)),
        )
        if wanted == current:
            return None
        repoint = Operation(
            f"update {resource.address}",
            Verb.UPDATE,
            resource.address,
            self.collection,
            target=live.id,
            body={"tool_resources": resolved},
            summary="re-point",
        )
        return "something it uses gets a new id; it is re-pointed there", [repoint]

    # --- exporting

    def export(self, resource: LiveResource, context: ExportContext) -> ExportedDocument | None:
        data = resource.data
        name = context.names[resource.id]
        assistant = AssistantSpec.of(
            {
                **data,
                "tool_resources": {
                    "file_search": {
                        "vector_stores": [
                            context.names[i] for i in vector_store_ids(data) if i in context.names
                        ]
                    },
                    "code_interpreter": {
                        "files": [
                            context.file_paths[i]
                            for i in code_interpreter_file_ids(data)
                            if i in context.file_paths
                        ]
                    },
                },
            }
        )
        spec: dict[str, Any] = {"model": assistant.model}
        if assistant.name is not None and assistant.name != name:
            spec["name"] = assistant.name
        if assistant.description:
            spec["description"] = assistant.description
        files: dict[str, bytes] = {}
        instructions = assistant.instructions
        if instructions is not None and _belongs_in_a_file(instructions):
            files[f"prompts/{name}.md"] = instructions.encode()
            spec["instructions_file"] = context.manifest_path(f"prompts/{name}.md")
        else:
            spec["instructions"] = instructions or ""
        if assistant.tools:
            spec["tools"] = [_manifest_tool(tool) for tool in assistant.tools]
        resources = assistant.tool_resources()
        if resources:
            spec["tool_resources"] = {}
            if "file_search" in resources:
                spec["tool_resources"]["file_search"] = resources["file_search"]
            if "code_interpreter" in resources:
                spec["tool_resources"]["code_interpreter"] = {
                    "files": [
                        context.manifest_path(p) for p in resources["code_interpreter"]["files"]
                    ]
                }
        defaults = AssistantSpec(name=None, model=None)
        if assistant.temperature != defaults.temperature:
            spec["temperature"] = assistant.temperature
        if assistant.top_p != defaults.top_p:
            spec["top_p"] = assistant.top_p
        if assistant.response_format != defaults.response_format:
            spec["response_format"] = assistant.response_format
        for key, default in OPTIONAL_SETTINGS.items():
            if getattr(assistant, key) != default:
                spec[key] = _plain(getattr(assistant, key))
        if assistant.metadata:
            spec["metadata"] = dict(assistant.metadata)
        notes: list[str] = []
        if not data.get("name"):
            notes.append(
                f"assistant.{name} has no display name in the account; the manifest's default "
                f"(its logical name, {name!r}) is what the next apply sets"
            )
        notes.extend(
            f"assistant.{name}: function {function} has no parameters in the account; manifests "
            "need a schema, so it gets an empty one, which the next apply writes"
            for function in _functions_without_parameters(data)
        )
        return ExportedDocument(
            self.manifest_kind or "", name, resource.id, spec, files, tuple(notes)
        )


def _id_set(ids: Iterable[str | Ref]) -> tuple[str, ...]:
    return tuple(sorted(str(i) if isinstance(i, str) else f"ref:{i.key}" for i in ids))


def _accept_server_file_search_options(live: AssistantSpec, wanted: AssistantSpec) -> AssistantSpec:
    """A manifest that leaves ``max_num_results`` out accepts whatever the server chose."""
    search = next((t for t in wanted.tools if isinstance(t, FileSearchTool)), None)
    if search is None or search.max_num_results is not None:
        return live
    tools = tuple(
        FileSearchTool(None, tool.ranking_options) if isinstance(tool, FileSearchTool) else tool
        for tool in live.tools
    )
    return dataclasses.replace(live, tools=tools)


def _belongs_in_a_file(instructions: str) -> bool:
    return (
        instructions.count("\n") >= INLINE_INSTRUCTIONS_MAX_LINES
        or len(instructions) > INLINE_INSTRUCTIONS_MAX_CHARS
    )


def _functions_without_parameters(data: Mapping[str, Any]) -> list[str]:
    return [
        (tool.get("function") or {}).get("name", "?")
        for tool in data.get("tools") or ()
        if tool.get("type") == "function" and (tool.get("function") or {}).get("parameters") is None
    ]


def _manifest_tool(tool: Tool) -> dict[str, Any]:
    """A normalised tool in manifest form: defaults left out, parameters inline."""
    view = tool.view()
    if not isinstance(tool, FunctionTool):
        return view
    function = dict(view["function"])
    if not function.get("strict"):
        function.pop("strict", None)
    if function.get("parameters") is None:
        function["parameters"] = {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _strict_problems(schema_node: Mapping[str, Any], at: str) -> Iterator[str]:
    """Strict function schemas must be closed: every object has additionalProperties: false
    and requires all of its properties (the API refuses others)."""
    if schema_node.get("type") == "object":
        where = f" at {at}" if at else ""
        if schema_node.get("additionalProperties") is not False:
            yield f"strict: true needs additionalProperties: false{where}"
        properties = schema_node.get("properties", {})
        missing = sorted(set(properties) - set(schema_node.get("required", [])))
        if missing:
            yield (
                f"strict: true needs every property in 'required'{where} (missing: "
                + ", ".join(missing)
                + ")"
            )
        for name, child in properties.items():
            if isinstance(child, Mapping):
                yield from _strict_problems(child, f"{at}.{name}" if at else name)
    items = schema_node.get("items")
    if isinstance(items, Mapping):
        yield from _strict_problems(items, f"{at}[]")


def _json_line(text: str, path: Sequence[Any]) -> int | None:
    """The line of ``path`` inside a JSON document (JSON is YAML, whose nodes know lines)."""
    node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else None


@functools.cache
def _metaschema_checker() -> Draft202012Validator:
    return Draft202012Validator(Draft202012Validator.META_SCHEMA)


@functools.lru_cache(maxsize=4096)
def _schema_error(canonical: str) -> tuple[FieldPath, str] | None:
    """The first metaschema error of a parameters schema, if any.

    A check costs milliseconds and large stacks repeat the same function schemas, so checks are
    cached by the schema's canonical JSON and share one metaschema validator.
    """
    for error in _metaschema_checker().iter_errors(json.loads(canonical)):
        return tuple(error.path), error.message
    return None
