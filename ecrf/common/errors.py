"""Error pages in the user's language; JSON for the API."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

#: The statuses with a page of their own; any other is told on the generic error page.
PAGES = frozenset({400, 403, 404, 413, 500})

#: Seconds a client is asked to wait before trying again while the database is away.
DATABASE_RETRY_AFTER_SECONDS = 30


def _answer(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    template = f"{status}.html" if status in PAGES else "error.html"
    return render(request, template, {"status": status, "message": message}, status=status)


#: SQLSTATE classes of a server that is away: connection exceptions (08), operator
#: intervention such as a shutdown or a server still starting (57P), no connection slot
#: left (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53300")


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether an error means the database cannot be reached (down, restarting, cut off).

    A connection that died earlier is ``InterfaceError`` when used again. A refused or
    lost connection is ``OperationalError`` with no SQLSTATE (the client saw it), a
    server shutting down or starting up one with its SQLSTATE. Other operational
    errors (a deadlock, a cancelled statement) are not an outage.
    """
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def database_unavailable_message() -> str:
    return _(
        "The database cannot be reached at the moment, so this request was not completed. "
        "Please try again in a minute; if you were saving, check first whether it was saved."
    )


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON under /api/, else the error page.

    The page is rendered without the request's context processors, which would read the
    signed-in user (and so the database) again.
    """
    message = database_unavailable_message()
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(
            render_to_string("error.html", {"status": 503, "message": message}), status=503
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _caused_by_database_outage(exc: BaseException | None) -> bool:
    """Whether an error was raised while handling a database outage, at any depth."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if is_database_unavailable(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def bad_request(request: HttpRequest, exception: Any = None) -> HttpResponse:
    # Django turns any database error while saving the session into SessionInterrupted
    # (400); when the database is away, that is an outage, answered as one.
    if _caused_by_database_outage(getattr(exception, "__context__", None)):
        return database_unavailable(request)
    if isinstance(exception, RequestDataTooBig):
        return _answer(
            request,
            413,
            _("The request is larger than the %(limit)s MB the server accepts; nothing was saved.")
            % {"limit": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024):g}"},
        )
    return _answer(request, 400, _("The request could not be understood."))


def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else _("You may not do this.")
    return _answer(request, 403, message)


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return _answer(request, 404, _("Not found."))


def server_error(request: HttpRequest) -> HttpResponse:
    """500 (a page that reads neither the request nor the database), or 503 when the
    error being handled is an unreachable database.

    Django calls this while handling the exception (from a view, the API or any
    middleware), so the exception is still the one being handled.
    """
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable(request)
    message = _("Something went wrong on our side; nothing was saved.")
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=500)
    # Without the request's context processors: they read the signed-in user, and so the
    # database, which may be what failed.
    return HttpResponse(render_to_string("500.html", {"message": message}), status=500)
