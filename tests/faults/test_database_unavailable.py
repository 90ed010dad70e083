"""Which database errors mean "the database is away" (503), and how they are answered."""

from __future__ import annotations

import json

import psycopg
import psycopg.errors
import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from ecrf.api.errors import exception_handler
from ecrf.common.errors import is_database_unavailable, server_error

pytestmark = pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")


def wrapped(cause: Exception) -> OperationalError:
    """A Django ``OperationalError`` raised from ``cause``, as Django's wrapper raises it."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.OperationalError("connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.ConnectionFailure("server closed the connection"),
        psycopg.errors.TooManyConnections("too many clients already"),
    ],
)
def test_a_lost_or_refused_connection_is_the_database_being_away(cause):
    assert is_database_unavailable(wrapped(cause))


def test_a_connection_that_died_earlier_is_the_database_being_away():
    assert is_database_unavailable(InterfaceError("connection already closed"))


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    ],
)
def test_other_operational_errors_are_not_an_outage(cause):
    assert not is_database_unavailable(wrapped(cause))


def test_other_errors_are_not_an_outage():
    assert not is_database_unavailable(ValueError("no"))
    assert not is_database_unavailable(None)


def answer_while_handling(exc: Exception, path: str):
    """The 500 handler called as Django calls it: while ``exc`` is being handled."""
    try:
        raise exc
    except Exception:
        return server_error(RequestFactory().get(path))


def test_a_page_answers_503_with_retry_after_without_reading_the_database():
    # No database for this test: pytest-django refuses any query it would make.
    response = answer_while_handling(wrapped(psycopg.OperationalError("refused")), "/participants/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "The database cannot be reached" in page and "<html" in page


def test_the_api_answers_503_in_json_with_retry_after():
    response = answer_while_handling(InterfaceError("connection already closed"), "/api/v1/x/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert json.loads(response.content)["detail"].startswith("The database cannot be reached")


def test_any_other_error_is_still_a_500():
    response = answer_while_handling(RuntimeError("bug"), "/api/v1/x/")
    assert response.status_code == 500


def test_the_api_error_handler_answers_503_for_an_unreachable_database():
    response = exception_handler(wrapped(psycopg.OperationalError("refused")), {})
    assert response is not None
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.data["detail"].startswith("The database cannot be reached")


@pytest.mark.django_db
def test_a_session_lost_to_the_outage_answers_503_not_400(monkeypatch):
    """Django's session save turns any database error into SessionInterrupted (400)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.exceptions import SessionInterrupted
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.contrib.sessions.models import Session
    from django.http import HttpResponse

    from ecrf.common.errors import bad_request

    def database_away(*args, **kwargs):
        raise wrapped(psycopg.OperationalError("server closed the connection"))

    request = RequestFactory().get("/participants/")
    session = SessionStore()
    session.create()
    request.session = SessionStore(session_key=session.session_key)
    request.session["seen"] = True
    monkeypatch.setattr(Session, "save", database_away)
    middleware = SessionMiddleware(lambda r: HttpResponse())
    with pytest.raises(SessionInterrupted) as raised:
        middleware.process_response(request, HttpResponse())
    response = bad_request(request, raised.value)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def test_a_bad_request_of_its_own_is_still_400():
    from django.core.exceptions import SuspiciousOperation

    from ecrf.common.errors import bad_request

    response = bad_request(RequestFactory().get("/x/"), SuspiciousOperation("bad"))
    assert response.status_code == 400
