"""The baseline of ``data_entry_latency``: a signed-in POST that does one insert, nothing else.

It runs behind the same middleware (session, authentication, CSRF, audit context, the
guard's 409 handler) in the same gunicorn workers as the form saves it is compared with.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

BARE_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS loadtest_bare_insert ("
    "id bigserial PRIMARY KEY, written_at timestamptz NOT NULL, written_by bigint NOT NULL)"
)


@login_required
@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loadtest_bare_insert (written_at, written_by) VALUES (now(), %s)",
            [request.user.pk],
        )
    return HttpResponse(status=204)
