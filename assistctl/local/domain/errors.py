"""What the API's rules refuse. The domain raises these with the API's wording and ``param``;
the api answers them with the API's error body (400 or 404)."""

from __future__ import annotations


class Refusal(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(Refusal):
    """The request breaks a rule of the API (answered 400)."""


class NotFound(Refusal):
    """The request names an object the account does not hold (answered 404)."""


def not_found(kind: str, id: str) -> NotFound:
    """The API's 404: ``No assistant found with id 'asst_x'.``"""
    return NotFound(f"No {kind} found with id '{id}'.")
