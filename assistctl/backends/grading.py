"""Graders and embedders over the ``openai`` SDK: chat completions or Responses for ``rubric``,
embeddings for ``similar``, on any compatible endpoint (``spec.grader`` / ``--grader-account``).

The grader is asked for a structured answer (a strict JSON schema) at temperature 0 unless the
Stack says otherwise; its answer is still parsed strictly by ``grading.parse_grade``, because not
every compatible server enforces the schema. Calls are reads as far as retries go: repeating one
after a 5xx costs tokens, never a duplicate object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai

from assistctl import retry
from assistctl.backends.sdk import translated
from assistctl.errors import AccountError
from assistctl.grading import (
    GRADE_SCHEMA,
    GRADE_SCHEMA_NAME,
    GRADER_APIS,
    GRADER_INSTRUCTIONS,
    Exchange,
    Grade,
    GraderSettings,
    grading_input,
    parse_grade,
)

T = TypeVar("T")

OPENAI_BASE_URL = "https://api.openai.com/v1"
REQUEST_TIMEOUT_S = 120.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
NO_KEY = "assistctl-no-key"


@dataclass(frozen=True)
class SdkGrader:
    """``rubric`` checks through chat completions (``api: chat``) or Responses."""

    client: openai.OpenAI
    settings: GraderSettings
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY

    def grade(self, criteria: str, exchange: Exchange) -> Grade:
        prompt = grading_input(criteria, exchange)
        model = self.settings.model
        if self.settings.api == "responses":
            answer = _call(lambda: self._respond(prompt), f"grader {model}", self.policy)
        else:
            answer = _call(lambda: self._chat(prompt), f"grader {model}", self.policy)
        return parse_grade(answer, model)

    def _sampling(self) -> dict[str, Any]:
        temperature = self.settings.temperature
        return {} if temperature is None else {"temperature": temperature}

    def _chat(self, prompt: str) -> str | None:
        completion = self.client.chat.completions.create(
            model=self.settings.model,
            messages=[
                {"role": "system", "content": GRADER_INSTRUCTIONS},
                {"role": "user", "content": prompt},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": GRADE_SCHEMA_NAME,
                    "strict": True,
                    "schema": dict(GRADE_SCHEMA),
                },
            },
            **self._sampling(),
        )
        if not completion.choices:
            return None
        return completion.choices[0].message.content

    def _respond(self, prompt: str) -> str | None:
        response = self.client.responses.create(
            model=self.settings.model,
            instructions=GRADER_INSTRUCTIONS,
            input=prompt,
            text={
                "format": {
                    "type": "json_schema",
                    "name": GRADE_SCHEMA_NAME,
                    "strict": True,
                    "schema": dict(GRADE_SCHEMA),
                }
            },
            **self._sampling(),
        )
        return response.output_text


@dataclass(frozen=True)
class SdkEmbedder:
    """``similar`` checks through the embeddings endpoint. A reference text (``similar.to``)
    is the same for every attempt, so its embedding is asked for once."""

    client: openai.OpenAI
    settings: GraderSettings
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY
    known: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self.lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self.known))
        if missing:
            model = self.settings.embeddings_model
            found = _call(lambda: self._embeddings(missing), f"embeddings {model}", self.policy)
            if len(found) != len(missing):
                raise AccountError(
                    f"embeddings {model}: asked for {len(missing)} embeddings, got {len(found)}"
                )
            with self.lock:
                self.known.update(zip(missing, found, strict=True))
        with self.lock:
            return [self.known[t] for t in texts]

    def _embeddings(self, texts: list[str]) -> list[list[float]]:
        result = self.client.embeddings.create(model=self.settings.embeddings_model, input=texts)
        ordered = sorted(result.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]


def _call(operation: Callable[[], T], what: str, policy: retry.RetryPolicy) -> T:
    return retry.call(translated(operation, what), what=what, idempotent=True, policy=policy)


def connect(
    settings: GraderSettings,
    *,
    environ: Mapping[str, str] | None = None,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
) -> tuple[SdkGrader, SdkEmbedder]:
    """The grader and embedder of ``settings``; refuses an account that is not
    ``http(s)://…`` or ``openai`` and a missing key where one is needed (a loopback server
    may go without)."""
    account = settings.account
    if account is None:
        raise AccountError(
            "graded expectations (rubric, similar) need a grader account",
            hint="set spec.grader.account in the Stack, or pass --grader-account URL|openai",
        )
    if settings.api not in GRADER_APIS:
        raise AccountError(f"spec.grader.api: takes one of {', '.join(GRADER_APIS)}")
    key = settings.key(environ)
    if account == "openai":
        base_url = OPENAI_BASE_URL
    elif account.startswith(("http://", "https://")):
        base_url = account.rstrip("/")
    else:
        raise AccountError(
            f"unknown grader account {account!r}",
            hint="a grader account is http(s)://HOST/v1 (any chat-completions, Responses or "
            "embeddings endpoint) or openai; the local account has no model to grade with",
        )
    if key is None and not _is_loopback(base_url):
        raise AccountError(
            f"the grader account {_label(base_url)} needs an API key",
            hint=f"export {settings.key_variable}=… (the key is read from the environment only)",
        )
    client = openai.OpenAI(
        api_key=key or NO_KEY, base_url=base_url, max_retries=0, timeout=REQUEST_TIMEOUT_S
    )
    return SdkGrader(client, settings, policy), SdkEmbedder(client, settings, policy)


def _is_loopback(base_url: str) -> bool:
    host = base_url.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[2]
    return host.rsplit(":", 1)[0] in LOOPBACK_HOSTS


def _label(base_url: str) -> str:
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"
