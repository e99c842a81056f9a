"""Runs, run steps and the run engine: owned by the runs engineer (placeholder until then)."""


def routes() -> list:
    return []
