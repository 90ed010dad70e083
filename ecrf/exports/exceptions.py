"""Errors of exports; the views turn them into status codes."""

from __future__ import annotations


class ExportGone(Exception):
    """The export's file is no longer kept (HTTP 410): it expired, or was removed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ExportRefused(Exception):
    """An export cannot be written as asked; ``detail`` says why, in the owner's words."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
