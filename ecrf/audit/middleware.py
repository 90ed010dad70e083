"""Puts each web and API request's origin into the audit context."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import audit_context, user_metadata


class AuditContextMiddleware:
    """Every write made while serving a request names the request path, method and id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        request.audit_request_id = request_id  # type: ignore[attr-defined]
        source = "api" if request.path.startswith("/api/") else "web"
        user = getattr(request, "user", None)
        with audit_context(
            source=source,
            url=request.path,
            method=request.method,
            request_id=request_id,
            **user_metadata(user),
        ):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
