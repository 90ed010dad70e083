"""Domain errors the services raise; views and the API turn them into status codes."""

from __future__ import annotations


class StateConflict(Exception):
    """The request is well-formed but the record's state forbids it (HTTP 409)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
