"""The API's JSON parser: any body that is not a JSON document answers 400, never 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's parser, also refusing documents nested too deeply for Python's decoder.

    The standard library raises ``RecursionError`` (not ``ValueError``) for a body such as
    a hundred thousand ``[``, which DRF lets through as a server error. (Bodies over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` are refused before parsing, with 400.)
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("JSON parse error - the document is nested too deeply.")) from exc
