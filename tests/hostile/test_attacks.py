"""The classic attacks, each as an explicit test.

- SQL injection in every free-text field (stored literally) and every query parameter;
- XSS in every free-text field, escaped on every page that shows it;
- CSRF: a web POST without its token is refused (403) and writes nothing;
- oversized bodies answer 4xx (400, 413), never 500;
- path traversal in download and file paths answers 404/400 and serves no file.

(Formula injection in CSV exports is tested with the exports themselves.)
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.postgres.forms import SimpleArrayField
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, reverse

from ecrf.participants.models import Participant
from tests.clock import at
from tests.conftest import sign_in
from tests.core.test_site_isolation import app_routes
from tests.factories import ELIGIBLE_ANSWERS, PASSWORD

from .engine import Case, Ctx, Target, clocked, judge, rolled_back, row_counts, submit
from .targets import TARGETS, WEB_TARGETS
from .values import SQL_INJECTION

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE")]

# -- SQL injection ---------------------------------------------------------------------

PLAIN = "Plain words"


def _text_fields(target: Target, ctx: Ctx) -> dict[str, int]:
    return {
        name: kind.max_length or 2000
        for name, kind in target.fields(ctx).items()
        # a list of codes (the admin's comma-separated lists) is not free text
        if kind.name == "text"
        and not isinstance(target.build(ctx, None, None).fields[name], SimpleArrayField)
    }


#: Targets whose text fields are all codes or secrets, not free text.
NO_FREE_TEXT = {
    "generate_list",
    "sign",
    "api_signature",
    "verify",
    "api_verification",
    "login",
    "admin_user_password",
    "mfa_verify",
    "password_change",
    "randomize",
    "participant_filter",
    "query_filter",
    "verification_worklist_filter",
    "awaiting_confirmation_filter",
    "api_participant_create",
    "export_request",
    "api_export_request",
}


@pytest.mark.parametrize(
    "target", [t for t in TARGETS if t.stored is not None], ids=lambda t: t.name
)
def test_sql_injection_in_every_free_text_field_is_stored_literally(target: Target, scene):
    """A field that takes free text takes these strings too (cut to its length), stores
    them as typed, and every table is still there afterwards."""
    with clocked(target):
        ctx = target.setup(scene)
        fields = target.fields(ctx)
        baseline = target.baseline(ctx)
        files = {k: v for k, v in baseline.items() if isinstance(v, bytes)}
        data = {k: v for k, v in baseline.items() if k not in files}
        checked = []
        for name, limit in _text_fields(target, ctx).items():
            with rolled_back(ctx.client):
                before = row_counts()
                probe = Case(data={**data, name: PLAIN}, files=files, mutated=(name,))
                response = submit(target, ctx, probe)
                verdict = judge(target, ctx, probe, response, before, fields, {})
            if not verdict.accepted:
                continue  # not free text here (a code, a password that must match...)
            for payload in SQL_INJECTION[:4]:
                with rolled_back(ctx.client):
                    before = row_counts()
                    case = Case(data={**data, name: payload[:limit]}, files=files, mutated=(name,))
                    response = submit(target, ctx, case)
                    verdict = judge(target, ctx, case, response, before, fields, {})
                    assert verdict.accepted, f"{target.name}.{name}: {payload!r} refused"
                    assert row_counts().keys() == before.keys()
            checked.append(name)
        if _text_fields(target, ctx) and target.name not in NO_FREE_TEXT:
            assert checked, f"{target.name}: no free-text field took plain words"


LIST_QUERIES = [
    ("/participants/", ["site", "status", "q", "sort", "page"]),
    ("/participants/verification/", ["site", "awaiting", "sort", "page"]),
    ("/participants/adverse-events/awaiting-confirmation/", ["site", "page"]),
    ("/api/v1/participants/", ["site", "status", "page"]),
    ("/api/v1/queries/", ["status", "participant", "site", "record", "form", "age", "raised_by"]),
    ("/queries/", ["site", "participant", "form", "status", "age", "raised_by", "sort", "page"]),
    ("/queries/queries.csv", ["site", "form", "raised_by", "sort"]),
    ("/api/v1/exports/", ["page"]),
    ("/exports/", ["page"]),
    ("/", ["page"]),
]


@pytest.mark.parametrize("path,params", LIST_QUERIES, ids=[p for p, _ in LIST_QUERIES])
def test_sql_injection_in_query_parameters_is_harmless(
    path, params, make_user, client_for, api_for, participant_a, participant_b
):
    monitor = make_user("monitor", ["S01", "S02"])
    client = api_for(monitor) if path.startswith("/api/") else client_for(monitor)
    participants = Participant.objects.count()
    for name in params:
        for payload in [*SQL_INJECTION, "S01' OR '1'='1", "1 OR 1=1", "\x00", "%00"]:
            response = client.get(path, {name: payload})
            assert response.status_code in (200, 400, 403, 404), (path, name, payload)
            if path == "/api/v1/participants/" and name == "site" and response.status_code == 200:
                # Taken as a site code, which no site has: nothing, not everything.
                assert response.json()["results"] == [], payload
    assert Participant.objects.count() == participants


# -- XSS -------------------------------------------------------------------------------


def script(tag: str) -> str:
    return f'<script>alert("{tag}")</script>'


def breakout(tag: str) -> str:
    return f'"><img src=x onerror=alert("{tag}")>{script(tag)}'


def escaped(tag: str) -> str:
    return f"&lt;script&gt;alert(&quot;{tag}&quot;)&lt;/script&gt;"


TAGS = [
    "lab",
    "elig-reason",
    "grade",
    "et-reason",
    "dose-comment",
    "deviation",
    "missed",
    "lot",
    "visit",
    "ae-term",
    "ae-term2",
    "ae-reason",
    "query",
    "answer",
    "meaning",
    "lock",
    "unlock",
    "withdraw",
]
RAW = re.compile(r"<script>alert\(|<img src=x onerror=", re.IGNORECASE)


def _post(client: Client, path: str, data: dict[str, Any]) -> None:
    response = client.post(path, data)
    assert response.status_code == 302, (path, response.status_code, _errors(response))
    assert "/accounts/" not in response["Location"], (path, response["Location"])
    queued = getattr(response.wsgi_request._messages, "_queued_messages", [])
    errors = [str(m) for m in queued if m.level >= message_levels.ERROR]
    assert not errors, (path, errors)


def _errors(response: Any) -> Any:
    context = response.context or {}
    return {k: v.errors for k, v in context.items() if hasattr(v, "errors")} if context else None


def _enter_hostile_text_everywhere(scene: Any) -> Participant:
    """Every free-text field of one participant's casebook filled with a script payload,
    through the pages, by the roles who enter each."""
    participant = scene.fx("transferred")
    p = f"/participants/{participant.pk}"
    answers = {k: ("" if v is None else str(v)) for k, v in ELIGIBLE_ANSWERS.items()}
    with at("2026-03-20"):
        coordinator = scene.web("coordinator")
        _post(
            coordinator,
            f"{p}/eligibility/",
            {**answers, "th1_th2_laboratory": breakout("lab"), "reason": breakout("elig-reason")},
        )
        _post(
            coordinator,
            f"{p}/treatment/embryo-transfer/",
            {
                "et_date": "2026-03-01",
                "performed": "on",
                "embryos_transferred": "1",
                "embryo_stage": "blastocyst",
                "embryo_grade": script("grade"),
                "reason": breakout("et-reason"),
            },
        )
        intake_dose = participant.allocation.arm.daily_dose_mg / 2
        _post(
            coordinator,
            f"{p}/treatment/dose/",
            {
                "date": "2026-02-27",
                "intake": "morning",
                "taken": "True",
                "dose_mg": str(intake_dose + 1),
                "comment": breakout("dose-comment"),
                "deviation_reason": breakout("deviation"),
            },
        )
        _post(
            coordinator,
            f"{p}/treatment/dose/2026-02-27/evening/",
            {"taken": "False", "missed_reason": breakout("missed")},
        )
        _post(
            coordinator,
            f"{p}/treatment/dispensing/",
            {"dispensed_on": "2026-02-26", "lot_number": script("lot"), "capsules": "32"},
        )
        _post(
            coordinator,
            f"{p}/treatment/visit/",
            {
                "visit_code": "biochemical_pregnancy",
                "outcome": "missed",
                "reason": breakout("visit"),
            },
        )
        ae = {
            "term": breakout("ae-term"),
            "onset_date": "2026-03-10",
            "ctcae_grade": "1",
            "serious": "False",
            "related": "False",
            "outcome": "recovering",
        }
        _post(coordinator, f"{p}/safety/", ae)
        event = participant.adverse_events.get()
        _post(
            coordinator,
            f"{p}/safety/{event.pk}/",
            {
                **ae,
                "term": breakout("ae-term2"),
                "outcome": "recovered",
                "reason": breakout("ae-reason"),
            },
        )
        monitor = scene.web("monitor")
        _post(
            monitor, f"{p}/queries/", {"target": "consent.consent_date", "text": breakout("query")}
        )
        query = participant.queries.get()
        _post(coordinator, f"/queries/{query.pk}/respond/", {"text": breakout("answer")})
        _post(
            scene.web("investigator"),
            f"{p}/sign/",
            {"meaning": breakout("meaning"), "password": PASSWORD, "sign_anyway": "on"},
        )
        data_manager = scene.web("data_manager")
        _post(data_manager, f"{p}/lock/", {"reason": breakout("lock"), "record": ""})
        _post(data_manager, f"{p}/unlock/", {"reason": breakout("unlock")})
        _post(
            coordinator,
            f"{p}/withdraw/",
            {"date": "2026-03-20", "decided_by": "participant", "reason": breakout("withdraw")},
        )
    participant.refresh_from_db()
    return participant


#: The audit trail shows every field entered, old values and reasons included.
HISTORY = {
    "lab",
    "elig-reason",
    "grade",
    "et-reason",
    "dose-comment",
    "deviation",
    "missed",
    "lot",
    "visit",
    "ae-term",
    "ae-term2",
    "ae-reason",
    "meaning",
    "lock",
    "unlock",
    "withdraw",
}


def _pages(participant: Participant) -> list[tuple[str, str, set[str]]]:
    """Each page that shows her data: its path, who reads it, the payloads it shows."""
    p = f"/participants/{participant.pk}"
    event = participant.adverse_events.get()
    return [
        (f"{p}/", "coordinator", {"query", "answer", "meaning", "withdraw"}),
        (f"{p}/", "monitor", {"query", "answer", "meaning", "withdraw"}),
        (f"{p}/history/", "data_manager", HISTORY),
        (f"{p}/safety/", "coordinator", {"ae-term2"}),
        (f"{p}/safety/{event.pk}/", "coordinator", {"ae-term2"}),
        (
            f"{p}/treatment/",
            "coordinator",
            {"grade", "dose-comment", "deviation", "missed", "visit"},
        ),
        (f"{p}/treatment/dose/2026-02-27/evening/", "coordinator", {"missed"}),
        (f"{p}/schedule/", "coordinator", set()),
        (f"{p}/endpoints/biochemical_pregnancy/", "coordinator", set()),
        (f"{p}/labs/", "coordinator", set()),
        ("/", "monitor", set()),
        ("/", "coordinator", set()),
        ("/participants/", "coordinator", set()),
    ]


def test_script_payloads_in_every_free_text_field_come_back_escaped(scene):
    participant = _enter_hostile_text_everywhere(scene)
    problems = []
    with at("2026-03-20"):
        for path, role, expected in _pages(participant):
            response = scene.web(role).get(path)
            assert response.status_code == 200, (path, response.status_code)
            html = response.content.decode()
            raw = RAW.findall(html)
            if raw:
                problems.append(f"{path} as {role}: unescaped markup {raw}")
            shown = {tag for tag in TAGS if escaped(tag) in html}
            if expected - shown:
                problems.append(f"{path} as {role}: not shown escaped: {expected - shown}")
    assert not problems, "\n".join(problems)


def test_a_refused_form_shows_the_hostile_value_escaped(client_for, coordinator_a, randomized):
    response = client_for(coordinator_a).post(
        f"/participants/{randomized.pk}/safety/",
        {"term": breakout("too-long") * 10, "onset_date": "2026-03-10"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert not RAW.findall(html)
    assert escaped("too-long") in html


def test_a_hostile_form_code_in_an_error_message_is_escaped(
    client_for, make_user, ready_participant
):
    participant = ready_participant()
    monitor = client_for(make_user("monitor"))
    response = monitor.post(
        f"/participants/{participant.pk}/queries/",
        {"target": f"{script('code')}.field", "text": "Check"},
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert not RAW.findall(html)
    assert escaped("code") in html


# -- CSRF ------------------------------------------------------------------------------

#: a value for each kind of path argument, tried in turn until the route takes one
ARGUMENT_VALUES = ["1", str(uuid.uuid4()), "respond", "biochemical_pregnancy"]


def _dummy_url(name: str, pattern: URLPattern) -> str:
    names = list(pattern.pattern.regex.groupindex)
    for value in ARGUMENT_VALUES:
        try:
            return reverse(name, kwargs=dict.fromkeys(names, value))
        except NoReverseMatch:
            continue
    raise AssertionError(f"No test value fits the arguments of {name}: {names}")


def test_every_web_post_without_its_csrf_token_is_refused(make_user, participant_a):
    """Every route, posted by a signed-in user without the token: 403 and nothing saved."""
    user = make_user("data_manager")
    client = sign_in(Client(enforce_csrf_checks=True), user)
    before = row_counts()
    checked = 0
    for name, pattern in app_routes().items():
        url = _dummy_url(name, pattern)
        response = client.post(url, {"reason": "x", "text": "x"})
        if url.startswith("/api/"):
            # DRF: session-authenticated writes need the token too; read-only views 405.
            assert response.status_code in (403, 405), (url, response.status_code)
        else:
            assert response.status_code == 403, (url, response.status_code)
        checked += 1
    assert checked > 40
    assert row_counts() == before


@pytest.mark.parametrize(
    "target", [t for t in WEB_TARGETS if t.method == "post"], ids=lambda t: t.name
)
def test_a_valid_form_without_its_csrf_token_saves_nothing(target: Target, scene):
    with clocked(target):
        ctx = target.setup(scene)
        baseline = target.baseline(ctx)
        user = ctx.get("user")
        client = Client(enforce_csrf_checks=True)
        if user is not None and target.role is not None:
            sign_in(client, user)
        ctx = Ctx({**ctx, "client": client})
        files = {k: v for k, v in baseline.items() if isinstance(v, bytes)}
        case = Case(data={k: v for k, v in baseline.items() if k not in files}, files=files)
        before = row_counts()
        response = submit(target, ctx, case)
        assert response.status_code == 403
        assert row_counts() == before


# -- oversized bodies ------------------------------------------------------------------


def test_a_form_body_over_the_upload_limit_answers_413(
    client_for, coordinator_a, randomized, settings
):
    client = client_for(coordinator_a)
    before = row_counts()
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post(
        f"/participants/{randomized.pk}/safety/",
        f"term={big}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert 'id="error-heading"' in response.content.decode()
    assert row_counts() == before


def test_too_many_form_fields_answer_400(client_for, coordinator_a, randomized, settings):
    fields = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = client_for(coordinator_a).post(f"/participants/{randomized.pk}/safety/", fields)
    assert response.status_code == 400


def test_a_5_mb_json_body_is_refused_before_parsing(api_for, coordinator_a, randomized):
    client = api_for(coordinator_a)
    before = row_counts()
    body = json.dumps({"term": "x" * 5_000_000, "onset_date": "2026-03-10"})
    response = client.generic(
        "POST",
        f"/api/v1/participants/{randomized.pk}/adverse-events/",
        body,
        content_type="application/json",
    )
    assert response.status_code in (400, 413)
    assert response.json()
    assert row_counts() == before


def test_a_long_value_within_the_body_limit_is_refused_naming_its_field(
    api_for, coordinator_a, randomized
):
    body = {
        "term": "x" * 1_000_000,
        "onset_date": "2026-03-10",
        "ctcae_grade": 1,
        "serious": False,
        "related": False,
        "outcome": "recovered",
    }
    response = api_for(coordinator_a).post(
        f"/api/v1/participants/{randomized.pk}/adverse-events/", body, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"term"}


def test_a_huge_idempotency_key_is_refused_naming_it(api_for, coordinator_a, ready_participant):
    participant = ready_participant()
    response = api_for(coordinator_a).post(
        f"/api/v1/participants/{participant.pk}/randomize/", HTTP_IDEMPOTENCY_KEY="k" * 10_000
    )
    assert response.status_code == 400
    assert list(response.json()) == ["idempotency_key"]
    participant.refresh_from_db()
    assert participant.status == "consented"


@pytest.mark.requirement("API-CONV-JSON")
def test_a_form_body_sent_to_the_json_api_answers_415(api_for, coordinator_a):
    response = api_for(coordinator_a).generic(
        "POST",
        "/api/v1/participants/",
        "site=S01",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415


def test_an_oversized_allocation_file_is_refused_naming_the_file(make_user, client_for, site_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    statistician = client_for(make_user("statistician"))
    upload = SimpleUploadedFile("list.csv", b"sequence,block,block_size,arm\n" + b"1" * 1_100_000)
    response = statistician.post("/randomization/import/", {"site": site_a.pk, "file": upload})
    assert response.status_code == 400
    assert "file" in response.context["import_form"].errors


def test_a_block_larger_than_any_list_is_refused(make_user, client_for, site_a):
    statistician = client_for(make_user("statistician"))
    before = row_counts()  # after signing in (which enrols her authenticator)
    response = statistician.post(
        "/randomization/generate/", {"site": site_a.pk, "length": "1", "block_sizes": "3,300000"}
    )
    assert response.status_code == 400
    assert "block_sizes" in response.context["generate_form"].errors
    assert row_counts() == before


# -- path traversal --------------------------------------------------------------------

TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252f..%252fetc%252fpasswd",
    "....//....//etc/passwd",
    "..\\..\\..\\etc\\passwd",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/etc/passwd",
    "..%00/etc/passwd",
    "../../ecrf/settings/base.py",
    "00000000-0000-0000-0000-000000000000/../../../etc/passwd",
]
FILE_ROUTES = [
    "/exports/{x}/download/",
    "/exports/{x}/status/",
    "/api/v1/exports/{x}/",
    "/api/v1/exports/{x}/download/",
    "/randomization/{x}/export.csv",
    "/participants/{x}/schedule.ics",
    "/static/{x}",
    "/static/js/{x}",
]
LEAKS = [b"root:x:0:", b"SECRET_KEY", b"DATABASE_URL", b"import os"]


@pytest.mark.parametrize("route", FILE_ROUTES)
def test_path_traversal_in_file_routes_serves_no_file(route, make_user, client_for, api_for):
    user = make_user("data_manager")
    web, api = client_for(user), api_for(user)
    for attempt in TRAVERSALS:
        path = route.format(x=attempt)
        client = api if path.startswith("/api/") else web
        response = client.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert not [leak for leak in LEAKS if leak in content], path


def test_an_export_of_another_user_is_not_found_whatever_its_path(make_user, client_for, api_for):
    """A download names the job, never a file: a well-formed id of nobody's job is 404."""
    user = make_user("data_manager")
    job = str(uuid.uuid4())
    assert client_for(user).get(f"/exports/{job}/download/").status_code == 404
    assert api_for(user).get(f"/api/v1/exports/{job}/download/").status_code == 404
