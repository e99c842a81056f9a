"""Plans for people and programs: Terraform-like text, the documented JSON, PR-comment markdown.

Rendering only reads a ``Plan``; it never plans. Long text (instructions, function parameters,
large structures) is shown as a unified diff so a reviewer sees what changed, not two blobs.
"""

from __future__ import annotations

import difflib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistctl.kinds import KINDS, Registry
from assistctl.model import Action, Change, Operation, Plan
from assistctl.planfile import plan_document
from assistctl.stages import stages

_STYLES = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
    Action.NO_OP: "dim",
}
_INLINE_LIMIT = 72
_ARROW = "→"


# --- what to show for one change (shared by text and markdown) -------------------------------


@dataclass(frozen=True)
class FieldDetail:
    """One field of a change: ``before → after`` inline (one side alone when the value is added
    or removed), a unified diff, or a new value's lines (``block``, a new prompt)."""

    label: str
    before: str | None = None
    after: str | None = None
    diff: tuple[str, ...] = ()
    block: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        """``+`` added, ``-`` removed, ``~`` changed: readable without colour (CI logs)."""
        if self.diff or (self.before is not None and self.after is not None):
            return "~"
        return "+" if self.before is None else "-"


def describe(change: Change, kinds: Registry = KINDS) -> list[FieldDetail]:
    """The field lines a reviewer needs for one change."""
    if change.action is Action.CREATE:
        kind = kinds.get(change.kind)
        hidden = kind.hidden_when_created if kind is not None else frozenset()
        shown = [(key, value) for key, value in _shown(change.after or {}) if key not in hidden]
        return [detail for key, value in shown for detail in _created_fields(key, value)]
    if change.action is Action.DELETE:
        return []
    before, after = change.before or {}, change.after or {}
    details: list[FieldDetail] = []
    for field in change.fields:
        if field == "filename" and "sha256" in change.fields:
            continue  # derived from the content hash, already shown
        old, new = before.get(field), after.get(field)
        if field == "instructions":
            details.append(FieldDetail(field, diff=_text_diff(old or "", new or "")))
        elif field == "tools":
            details.extend(_tool_details(old or [], new or []))
        elif _is_mapping_or_none(old) and _is_mapping_or_none(new):
            details.extend(_mapping_details(field, old, new))
        else:
            details.append(_value_detail(field, old, new))
    return details


def _is_mapping_or_none(value: Any) -> bool:
    return value is None or isinstance(value, Mapping)


def _leaves(value: Any, path: str) -> dict[str, Any]:
    """``{"tool_resources.code_interpreter.files": [...], 'files["docs/a.md"]': "…"}``: nested
    mappings flattened to the values a reviewer compares (lists stay whole; a null is a value,
    e.g. a file attached by hand whose content is unknown)."""
    if not isinstance(value, Mapping):
        return {path: value}
    leaves: dict[str, Any] = {}
    for key, item in value.items():
        text = str(key)
        child = f"{path}.{text}" if text.isidentifier() else f"{path}[{_compact(text)}]"
        leaves.update(_leaves(item, child))
    return leaves


def _mapping_details(field: str, old: Any, new: Any) -> list[FieldDetail]:
    """Mappings (metadata, a store's files, tool_resources) diff leaf by leaf."""
    before, after = _leaves(old, field), _leaves(new, field)
    details = []
    for label in [*after, *(label for label in before if label not in after)]:
        if label not in before:
            details.append(FieldDetail(label, after=_compact(after[label])))
        elif label not in after:
            details.append(FieldDetail(label, before=_compact(before[label])))
        elif before[label] != after[label]:
            details.append(_value_detail(label, before[label], after[label]))
    return details or [_value_detail(field, old, new)]  # e.g. {} → null: no leaf differs


def _shown(view: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in view.items() if value not in (None, {}, [], "")]


def _created_fields(key: str, value: Any) -> list[FieldDetail]:
    """A new resource shows its whole spec: every line of the instructions, every tool with
    its options and function schema."""
    if key == "instructions" and isinstance(value, str):
        lines = tuple(value.splitlines())
        return [
            FieldDetail(
                key, after=f"{len(lines)} line{'' if len(lines) == 1 else 's'}:", block=lines
            )
        ]
    if key == "tools" and isinstance(value, list):
        return [
            FieldDetail(f"tools: {_tool_label(tool)}", after=_tool_options(tool)) for tool in value
        ]
    if key == "files" and isinstance(value, Mapping):
        return [FieldDetail(key, after=", ".join(value))]
    return [FieldDetail(key, after=_compact(value))]


def _tool_options(tool: Mapping[str, Any]) -> str:
    if tool.get("type") == "function":
        function = {k: v for k, v in (tool.get("function") or {}).items() if k != "name"}
        return _compact(function)
    options = {k: v for k, v in tool.items() if k != "type"}
    return _compact(options.get(str(tool.get("type")), options)) if options else ""


def _value_detail(label: str, old: Any, new: Any) -> FieldDetail:
    before, after = _compact(old), _compact(new)
    if len(before) <= _INLINE_LIMIT and len(after) <= _INLINE_LIMIT:
        return FieldDetail(label, before=before, after=after)
    return FieldDetail(label, diff=_text_diff(_pretty(old), _pretty(new)))


def _tool_details(old: Sequence[Mapping], new: Sequence[Mapping]) -> list[FieldDetail]:
    """Tools are matched by label (``file_search``, ``function get_order``), so a changed
    function shows a diff of its parameters instead of the whole tool list."""
    before = {_tool_label(tool): tool for tool in old}
    after = {_tool_label(tool): tool for tool in new}
    details = []
    for label in [*after, *(label for label in before if label not in after)]:
        if label not in before:
            details.append(FieldDetail(f"tools: {label}", after=_tool_options(after[label])))
        elif label not in after:
            details.append(FieldDetail(f"tools: {label}", before=_tool_options(before[label])))
        elif before[label] != after[label]:
            details.extend(_tool_change(label, before[label], after[label]))
    return details


def _tool_change(label: str, old: Mapping, new: Mapping) -> list[FieldDetail]:
    if old.get("type") != "function" or new.get("type") != "function":
        return [_value_detail(f"tools: {label}", old, new)]
    old_function, new_function = old.get("function") or {}, new.get("function") or {}
    details = []
    for key in [*new_function, *(k for k in old_function if k not in new_function)]:
        if old_function.get(key) == new_function.get(key):
            continue
        if key == "parameters":
            diff = _text_diff(_pretty(old_function.get(key)), _pretty(new_function.get(key)))
            details.append(FieldDetail(f"tools: {label} parameters", diff=diff))
        else:
            details.append(
                _value_detail(f"tools: {label} {key}", old_function.get(key), new_function.get(key))
            )
    return details


def _tool_label(tool: Mapping[str, Any]) -> str:
    if tool.get("type") == "function":
        return f"function {(tool.get('function') or {}).get('name')}"
    return str(tool.get("type"))


def _compact(value: Any) -> str:
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _text_diff(old: str, new: str) -> tuple[str, ...]:
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=2
    )
    return tuple(lines)


def summary_line(plan: Plan) -> str:
    if plan.destroy:
        if not plan.has_changes:
            return f"Nothing to destroy: stack {plan.owner!r} owns nothing in the account."
        return f"Destroy: {plan.summary()['delete']} to delete."
    if not plan.has_changes:
        return "No changes. The account matches the manifests."
    counts = plan.summary()
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['replace']} to replace, {counts['delete']} to delete."
    )


def _heading(plan: Plan) -> str:
    env = f" · env {plan.env}" if plan.env else ""
    return f"assistctl {'destroy' if plan.destroy else 'plan'} · stack {plan.stack}{env}"


# --- text --------------------------------------------------------------------------------------

_Segment = tuple[str, str | None]


def render_text(plan: Plan, *, color: bool) -> str:
    """Terraform-like text; ANSI colour (through rich) only when ``color`` is true."""
    lines: list[list[_Segment]] = [[(_heading(plan), "bold")], []]
    for change in plan.pending:
        style = _STYLES[change.action]
        symbol = change.action.symbol
        head: list[_Segment] = [(f"{symbol:>3} ", style), (change.address, "bold")]
        if change.id:
            head.append((f"  ({change.id})", "dim"))
        lines.append(head)
        if change.reason and change.action is not Action.CREATE:
            lines.append([(f"      # {change.reason}", "dim")])
        for detail in describe(change):
            lines.extend(_text_detail(detail))
        lines.append([])
    lines.extend(_operation_lines(plan))
    if plan.warnings:
        lines.append([("Warnings:", "bold yellow")])
        lines.extend([[("  ! ", "yellow"), (warning, None)] for warning in plan.warnings])
        lines.append([])
    lines.append([(summary_line(plan), "bold")])
    if not color:
        return "\n".join("".join(text for text, _ in line) for line in lines) + "\n"
    return _to_ansi(lines)


def operation_label(operation: Operation) -> str:
    """``attach vector_store.handbook (3 file(s))``: what one request does, for people."""
    subject = f" ({operation.summary})" if operation.summary else ""
    target = f" {operation.target}" if isinstance(operation.target, str) else ""
    return f"{operation.verb.value} {operation.address}{subject}{target}"


def _operation_lines(plan: Plan) -> list[list[_Segment]]:
    """Every request apply will make, stage by stage (a stage's requests run at once)."""
    if not plan.operations:
        return []
    lines: list[list[_Segment]] = [[("Operations, in order:", "bold")]]
    for number, stage in enumerate(stages(plan.operations, _position), start=1):
        for operation in stage:
            lines.append([(f"  {number:>3}. ", "dim"), (operation_label(operation), None)])
    lines.append([])
    return lines


def _position(kind: str) -> int:
    found = KINDS.get(kind)
    return KINDS.position(kind) if found is not None else len(KINDS)


def _text_detail(detail: FieldDetail) -> list[list[_Segment]]:
    """``    ~ field: before → after``: each line carries its marker, so a plan reads the same
    without colour."""
    head = f"    {detail.marker} {detail.label}:"
    if detail.diff:
        rows: list[list[_Segment]] = [[(head, None)]]
        rows.extend([[(f"          {line}", _diff_style(line))] for line in detail.diff])
        return rows
    if detail.before is None:
        rows = [[(f"{head} ", None), (detail.after or "", "green")]]
        rows.extend([[(f"          {line}".rstrip(), "green")] for line in detail.block])
        return rows
    if detail.after is None:
        return [[(f"{head} ", None), (detail.before, "red")]]
    return [
        [
            (f"{head} ", None),
            (detail.before, "red"),
            (f" {_ARROW} ", None),
            (detail.after or "", "green"),
        ]
    ]


def _diff_style(line: str) -> str | None:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return None


def _to_ansi(lines: list[list[_Segment]]) -> str:
    from rich.console import Console
    from rich.text import Text

    console = Console(
        force_terminal=True,
        color_system="standard",
        width=10_000,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )
    with console.capture() as captured:
        for line in lines:
            console.print(Text.assemble(*((text, style or "") for text, style in line)))
    return captured.get()


# --- JSON --------------------------------------------------------------------------------------


def render_json(plan: Plan) -> str:
    """The stable ``plan --json`` document (schema in the README, section Plan)."""
    return json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n"


# --- markdown ----------------------------------------------------------------------------------


def render_markdown(plan: Plan) -> str:
    """For a pull-request comment: a summary table, then one section per change."""
    env = f" · env `{plan.env}`" if plan.env else ""
    out = [f"### assistctl plan · stack `{plan.stack}`{env}", "", f"**{summary_line(plan)}**", ""]
    if plan.has_changes:
        out += ["| | Resource | Action | Changed fields |", "|---|---|---|---|"]
        for change in plan.pending:
            fields = ", ".join(f"`{f}`" for f in change.fields)
            out.append(
                f"| `{change.action.symbol}` | {_code(change.address, in_table=True)} | "
                f"{change.action.value} | {fields} |"
            )
        out.append("")
    for change in plan.pending:
        out += _markdown_change(change)
    if plan.operations:
        out += ["<details><summary>Operations, in order</summary>", ""]
        for number, stage in enumerate(stages(plan.operations, _position), start=1):
            out += [f"{number}. " + " · ".join(_code(operation_label(op)) for op in stage)]
        out += ["", "</details>", ""]
    if plan.warnings:
        out += ["**Warnings**", ""]
        out += [f"- ⚠️ {_escape(warning)}" for warning in plan.warnings]
        out.append("")
    unchanged = len(plan.changes) - len(plan.pending)
    out.append(f"<sub>{unchanged} resource(s) unchanged · live snapshot `{plan.live_digest}`</sub>")
    return "\n".join(out) + "\n"


def _markdown_change(change: Change) -> list[str]:
    id_text = f" ({_code(change.id)})" if change.id else ""
    out = [f"#### `{change.action.symbol}` {change.action.value} {_code(change.address)}{id_text}"]
    out.append("")
    if change.reason:
        out += [f"_{_escape(change.reason)}_", ""]
    inline = []
    collapsible = []
    for detail in describe(change):
        if detail.diff:
            collapsible.append(detail)
        elif detail.before is None:
            inline.append(f"- **{_escape(detail.label)}**: {_code(detail.after or '')}")
        elif detail.after is None:
            inline.append(f"- **{_escape(detail.label)}**: ~~{_code(detail.before)}~~")
        else:
            inline.append(
                f"- **{_escape(detail.label)}**: {_code(detail.before)} {_ARROW} "
                f"{_code(detail.after or '')}"
            )
    out += inline
    if inline:
        out.append("")
    for detail in collapsible:
        body = "\n".join(detail.diff)
        fence = "```"
        while fence in body:
            fence += "`"
        out += [
            f"<details><summary>{html.escape(detail.label)} diff</summary>",
            "",
            f"{fence}diff",
            body,
            fence,
            "",
            "</details>",
            "",
        ]
    return out


def _code(text: str, *, in_table: bool = False) -> str:
    """Inline code that survives backticks (and pipes, inside a table) in the text."""
    text = text.replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")
    ticks = "`"
    while ticks in text:
        ticks += "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{padding}{text}{padding}{ticks}"


def _escape(text: str) -> str:
    for character in "\\`*_<>|[]":
        text = text.replace(character, "\\" + character)
    return text
