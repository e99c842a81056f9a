"""The domain: the rules of the Assistants, Responses and Conversations APIs over the account's
storage (no HTTP, no SQL).

This is its one door. ``Account`` holds the services the api calls (assistants, files, vector
stores, file batches, threads, runs, responses, conversations, models) and the executors that
call the engine; the rest are the validated requests those services take, the refusals they
raise and the views they give.
"""

from assistctl.local.domain.account import Account
from assistctl.local.domain.background import in_background
from assistctl.local.domain.errors import InvalidRequest, NotFound, Refusal
from assistctl.local.domain.file_batches import BatchFile
from assistctl.local.domain.files import chunks_of
from assistctl.local.domain.items import item_view
from assistctl.local.domain.pages import PageRequest
from assistctl.local.domain.projects import PROJECT_NAME, Projects, key_digest
from assistctl.local.domain.recorder import Emit, Event
from assistctl.local.domain.records import ApiObject, JsonText, now, public
from assistctl.local.domain.responses import OpenResponse, ResponseRequest
from assistctl.local.domain.runs import RunRequest, pending_call_ids, run_tools
from assistctl.local.domain.threads import NewMessage, NewThread, text_part
from assistctl.local.domain.tool_resources import ToolResources
from assistctl.local.domain.vector_stores import FILE_STATUSES, Chunking, NewVectorStore
from assistctl.local.storage import DEFAULT_PROJECT, Lease, StoreUnavailable, in_project

__all__ = [
    "StoreUnavailable",
    "FILE_STATUSES",
    "Account",
    "DEFAULT_PROJECT",
    "PROJECT_NAME",
    "ApiObject",
    "Projects",
    "in_background",
    "in_project",
    "key_digest",
    "JsonText",
    "BatchFile",
    "Chunking",
    "Emit",
    "Event",
    "InvalidRequest",
    "Lease",
    "NewMessage",
    "NewThread",
    "NewVectorStore",
    "NotFound",
    "OpenResponse",
    "PageRequest",
    "Refusal",
    "ResponseRequest",
    "RunRequest",
    "ToolResources",
    "chunks_of",
    "item_view",
    "now",
    "pending_call_ids",
    "public",
    "run_tools",
    "text_part",
]
