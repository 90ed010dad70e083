"""A write refused for the state of the data (locked, withdrawn...) is a 409, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from ecrf.common.exceptions import StateConflict
from ecrf.common.guard import is_lock_violation, locked_message


class LockedDataMiddleware:
    """Answers 409 with the reason when a page or the admin meets a state conflict:
    locked data (refused by the database guard) or a service's ``StateConflict``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, StateConflict):
            message = exception.detail
        elif isinstance(exception, DatabaseError) and is_lock_violation(exception):
            message = locked_message()
        else:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=409)
        return render(request, "error.html", {"status": 409, "message": message}, status=409)
