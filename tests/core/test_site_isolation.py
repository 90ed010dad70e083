"""Nobody sees another site's data: every route that takes an object answers 404 for it.

The table below lists every URL pattern of the app. A pattern missing from it fails
the test, so a new page or endpoint cannot be added without saying what it exposes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ecrf.accounts.roles import SITE_BOUND_ROLES
from randomization.models import RandomizationList

pytestmark = pytest.mark.django_db

#: route name -> the kind of object its ``pk`` names (None: the route takes no object),
#: or that kind with the route's other arguments
ROUTES: dict[str, str | tuple[str, dict[str, str]] | None] = {
    "core:home": None,
    "accounts:login": None,
    "accounts:logout": None,
    "accounts:mfa_setup": None,
    "accounts:mfa_verify": None,
    "accounts:password_change": None,
    "accounts:set_language": None,
    "accounts:api_token": None,
    "accounts:access_review": None,
    "accounts:access_review_csv": None,
    "audit_review:index": None,
    "audit_review:sign_off": None,
    "audit_review:checkpoints": None,
    "participants:list": None,
    "participants:create": None,
    "participants:detail": "participant",
    "participants:edit": "participant",
    "participants:history": "participant",
    "participants:form": ("participant", {"code": "eligibility"}),
    "participants:eligibility": "participant",
    "participants:eligibility_check": "participant",
    "participants:consent": "participant",
    "participants:randomize": "participant",
    "participants:unblind": "participant",
    "endpoints:form": ("participant", {"record": "biochemical_pregnancy"}),
    "participants:withdraw": "participant",
    "queries:list": None,
    "queries:csv": None,
    "queries:open": "participant",
    "queries:step": ("query", {"step": "respond"}),
    "labs:results": "participant",
    "quality:sign": "participant",
    "quality:verify": "participant",
    "quality:lock": "participant",
    "quality:unlock": "participant",
    "quality:study_lock": None,
    "quality:study_unlock": None,
    "quality:worklist": None,
    "safety:adverse_events": "participant",
    "safety:adverse_event": ("participant", {"ae_pk": "1"}),
    "safety:adverse_event_confirm": ("participant", {"ae_pk": "1"}),
    "safety:awaiting_confirmation": None,
    "schedule:treatment": "participant",
    "schedule:embryo_transfer": "participant",
    "schedule:dose": "participant",
    "schedule:dose_intake": ("participant", {"day": "2026-02-27", "intake": "morning"}),
    "schedule:dispensing": "participant",
    "schedule:drug_return": "participant",
    "schedule:visit": "participant",
    "schedule:print": "participant",
    "schedule:ics": "participant",
    "randomization:index": None,
    "randomization:generate": None,
    "randomization:import": None,
    "randomization:detail": "randomization_list",
    "randomization:activate": "randomization_list",
    "randomization:extend": "randomization_list",
    "randomization:export": "randomization_list",
    "participant-list": None,
    "participant-detail": "participant",
    "participant-eligibility": "participant",
    "participant-consent": "participant",
    "participant-randomize": "participant",
    "participant-embryo-transfer": "participant",
    "participant-doses": "participant",
    "participant-adverse-events": "participant",
    "participant-biochemical-pregnancy": "participant",
    "participant-clinical-pregnancy": "participant",
    "participant-withdraw": "participant",
    "participant-lock": "participant",
    "participant-signature": "participant",
    "query-list": None,
    "query-detail": "query",
    "query-respond": "query",
    "query-close": "query",
    "query-reopen": "query",
    "reports:index": None,
    "reports:consort": None,
    "reports:enrollment": None,
    "reports:efficacy": None,
    "reports:safety": None,
    "reports:quality": None,
    "reports-efficacy": None,
    "access-review": None,
    "access-reviews": None,
    "api-keys": None,
    "audit-events": None,
    "audit-reviews": None,
    "form-catalogue": None,
    "participant-form": ("participant", {"code": "eligibility"}),
    "participant-form-verification": ("participant", {"code": "eligibility"}),
    "exports:index": None,
    "exports:status": "export",
    "exports:download": "export",
    "export-list": None,
    "export-detail": "export",
    "export-download": "export",
    "api-schema": None,
    "api-docs": None,
    "healthz": None,
}

#: Django's admin is for the admin role only, who sees every site (API contract).
ADMIN_NAMESPACE = "admin"


def _patterns(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, ns)
        elif entry.name:
            yield f"{namespace}{entry.name}", entry


def app_routes() -> dict[str, URLPattern]:
    return {
        name: pattern
        for name, pattern in _patterns(get_resolver())
        if not name.startswith(f"{ADMIN_NAMESPACE}:")
    }


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_every_route_is_in_the_table():
    routes = app_routes()
    missing = sorted(set(routes) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(routes))
    assert missing == [], f"Routes missing from the isolation table: {missing}"
    assert stale == [], f"Routes in the table that no longer exist: {stale}"


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_routes_taking_an_object_are_in_the_table_with_its_kind():
    for name, pattern in app_routes().items():
        if set(pattern.pattern.regex.groupindex):
            assert ROUTES[name] is not None, f"{name} takes an object; say which"
        else:
            assert ROUTES[name] is None, f"{name} takes no object"


@pytest.mark.requirement(
    "API-CONV-404-SITE", "CFR11-10D-ACCESS", "ICH-E6R3-CONFIDENTIALITY", "PROT-RAND-CONCEAL"
)
@pytest.mark.parametrize("role", sorted(SITE_BOUND_ROLES))
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_user_of_site_a_gets_404_for_every_route_of_a_site_b_object(
    role, method, make_user, client_for, api_for, participant_b
):
    user = make_user(role, ["S01"])
    web, api = client_for(user), api_for(user)
    from ecrf.exports.services import export_request
    from ecrf.participants.services import consent_record
    from ecrf.queries.services import query_open

    consent_record(
        participant=participant_b,
        consent_date=participant_b.screening_date,
        consent_version="1.0",
        performed_by=participant_b.registered_by,
    )
    query_b = query_open(
        participant=participant_b,
        record="consent",
        field="consent_date",
        text="Check the date",
        performed_by=None,
    )
    objects = {
        "query": query_b,
        "participant": participant_b,
        "randomization_list": RandomizationList.objects.get(site__code="S02"),
        "export": export_request(
            performed_by=make_user("monitor", ["S02"]), kind="audit_trail", format="csv"
        ),
    }
    checked = 0
    for name, kind in ROUTES.items():
        if kind is None:
            continue
        kind, extra = kind if isinstance(kind, tuple) else (kind, {})
        pk_name = "query_pk" if name == "queries:step" else "pk"
        url = reverse(name, kwargs={pk_name: objects[kind].pk, **extra})
        client = api if url.startswith("/api/") else web
        response = (
            getattr(client, method)(url, {}, format="json")
            if client is api
            else getattr(client, method)(url)
        )
        if response.status_code == 405:
            continue
        assert response.status_code == 404, f"{role} {method.upper()} {url}: {response.status_code}"
        assert participant_b.subject_id.encode() not in response.content
        assert b"sequence,block" not in response.content
        checked += 1
    assert checked > 0


@pytest.mark.requirement("CFR11-10D-ACCESS", "ICH-E6R3-CONFIDENTIALITY", "API-PARTICIPANT-LIST")
@pytest.mark.parametrize("role", sorted(SITE_BOUND_ROLES))
def test_lists_of_site_a_users_hold_nothing_of_site_b(
    role, make_user, client_for, api_for, participant_a, participant_b
):
    user = make_user(role, ["S01"])
    for path in ["/", "/participants/", "/participants/?site=S02", "/participants/?q=S02"]:
        response = client_for(user).get(path)
        assert response.status_code == 200
        assert participant_b.subject_id.encode() not in response.content, path
    for path in ["/api/v1/participants/", "/api/v1/participants/?site=S02"]:
        data = api_for(user).get(path).json()
        assert participant_b.subject_id not in {p["subject_id"] for p in data["results"]}, path


@pytest.mark.requirement("ICH-E6R3-4.3.8-USER-MANAGEMENT")
@pytest.mark.parametrize("role", ["data_manager", "statistician", "admin"])
def test_sponsor_roles_see_every_site(role, make_user, client_for, participant_a, participant_b):
    response = client_for(make_user(role)).get(f"/participants/{participant_b.pk}/")
    assert response.status_code == 200


@pytest.mark.requirement("CFR11-10D-ACCESS", "CFR11-10G-AUTHORITY")
def test_admin_pages_are_closed_to_every_role_but_admin(make_user, client_for, participant_b):
    url = reverse("admin:participants_participant_change", args=[participant_b.pk])
    for role in ["coordinator", "investigator", "monitor", "data_manager", "statistician"]:
        response = client_for(make_user(role)).get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], role
    assert client_for(make_user("admin")).get(url).status_code == 200
