"""The API's error format (API contract, Conventions).

- validation errors: 400 with ``{field: [messages]}`` (``non_field_errors`` for the rest);
- state conflicts: 409 with ``{"detail": ...}``;
- objects of other sites: 404, exactly as objects that do not exist;
- the database out of reach (down, restarting): 503 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ecrf.common.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    database_unavailable_message,
    is_database_unavailable,
)
from ecrf.common.exceptions import StateConflict
from ecrf.common.guard import is_lock_violation, locked_message


def _validation_payload(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): list(messages)
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if is_database_unavailable(exc):
        return Response(
            {"detail": database_unavailable_message()},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DatabaseError) and is_lock_violation(exc):
        return Response({"detail": locked_message()}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, StateConflict):
        return Response({"detail": exc.detail}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        return Response(_validation_payload(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, exceptions.ValidationError)
        and isinstance(response.data, list)
    ):
        response.data = {"non_field_errors": response.data}
    return response
