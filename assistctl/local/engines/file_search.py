"""The ``file_search`` tool as both engines run it: the run's vector stores searched as the
tool is configured, and the names its results are shown by."""

from __future__ import annotations

from assistctl.local.engines.contract import FileSearchCall, RunInput, Search, SearchResult

DEFAULT_MAX_SEARCH_RESULTS = 20
REPORTED_RANKER = "default_2024_08_21"  # what the API's run steps name the ``auto`` ranker
NAME_SEPARATOR = "~"


def search_files(run: RunInput, call_id: str, query: str, search: Search) -> FileSearchCall:
    """Search the run's vector stores as its ``file_search`` tool is configured: at most
    ``max_num_results`` hits of the files its ``filters`` (responses only) admit, none scoring
    below ``score_threshold`` (nor at zero)."""
    options = (run.tool("file_search") or {}).get("file_search") or {}
    limit = options.get("max_num_results") or DEFAULT_MAX_SEARCH_RESULTS
    ranking = options.get("ranking_options") or {}
    threshold = ranking.get("score_threshold") or 0.0
    ranker = ranking.get("ranker", "auto")
    hits = search(list(run.vector_store_ids), query, limit, options.get("filters"))
    results = tuple(
        SearchResult(h.file_id, h.filename, h.score, h.text, dict(h.attributes))
        for h in hits
        if h.score > 0 and h.score >= threshold
    )
    reported = {
        "ranker": REPORTED_RANKER if ranker == "auto" else ranker,
        "score_threshold": threshold,
    }
    return FileSearchCall(call_id, query, results, reported)


def display_filename(filename: str) -> str:
    """The name an answer shows a file by, so people recognise it.

    The local account's rule: a filename made of ``~``-separated segments is shown by its last
    segment, so a client can put its own bookkeeping ahead of the real name (assistctl's
    uploads are named ``assistctl~<owner>~<sha256>~<name>``). A name ending in ``~`` (an
    editor's backup, ``notes.md~``) has no last segment and is shown whole.
    """
    return filename.rpartition(NAME_SEPARATOR)[2] or filename
