"""``tool_resources`` in requests (assistants, threads, create-thread-and-run): validated, with
every file and vector store they name looked up."""

from __future__ import annotations

from typing import Any

from assistctl.local.api.validation import check_array_length, expect_type, reject_unknown
from assistctl.local.api.vector_stores import parse_new_vector_store
from assistctl.local.domain import Account, InvalidRequest, ToolResources

MAX_CODE_INTERPRETER_FILES = 20
MAX_VECTOR_STORES = 1


def parse_tool_resources(
    account: Account, value: Any, param: str = "tool_resources"
) -> ToolResources:
    """``code_interpreter.file_ids`` (≤ 20, existing files) and ``file_search.vector_store_ids``
    (≤ 1, existing stores); ``file_search.vector_stores`` asks for a new store."""
    if value is None:
        return ToolResources()
    expect_type(value, dict, param, "an object")
    reject_unknown(value, ("code_interpreter", "file_search"))
    file_ids = None
    code = value.get("code_interpreter")
    if code is not None:
        expect_type(code, dict, f"{param}.code_interpreter", "an object")
        file_ids = code.get("file_ids") or []
        where = f"{param}.code_interpreter.file_ids"
        expect_type(file_ids, list, where, "an array")
        check_array_length(file_ids, where, MAX_CODE_INTERPRETER_FILES)
        for file_id in file_ids:
            if not isinstance(file_id, str) or not account.files.exists(file_id):
                raise InvalidRequest(
                    f"Invalid '{where}': no file found with id '{file_id}'.", where
                )
    search = value.get("file_search")
    if search is None:
        return ToolResources(_ids(file_ids))
    expect_type(search, dict, f"{param}.file_search", "an object")
    where = f"{param}.file_search.vector_store_ids"
    store_ids = search.get("vector_store_ids") or []
    expect_type(store_ids, list, where, "an array")
    inline = search.get("vector_stores") or []
    expect_type(inline, list, f"{param}.file_search.vector_stores", "an array")
    if store_ids and inline:
        raise InvalidRequest(
            "Only one of 'vector_store_ids' or 'vector_stores' may be provided.",
            f"{param}.file_search",
        )
    check_array_length(store_ids or inline, where, MAX_VECTOR_STORES)
    for store_id in store_ids:
        if not isinstance(store_id, str) or not account.vector_stores.exists(store_id):
            raise InvalidRequest(
                f"Invalid '{where}': no vector store found with id '{store_id}'.", where
            )
    new_stores = []
    for index, spec in enumerate(inline):
        new_store = parse_new_vector_store(spec, f"{param}.file_search.vector_stores[{index}]")
        for file_id in new_store.file_ids:
            account.files.get(file_id)  # a missing file is the 404 that creating the store gives
        new_stores.append(new_store)
    return ToolResources(_ids(file_ids), tuple(store_ids), tuple(new_stores))


def _ids(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None
