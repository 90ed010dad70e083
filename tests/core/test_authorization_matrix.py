"""Who may do what: every route, as anonymous and as each role, with each HTTP method.

``ACCESS`` is the one table of expected outcomes. Each route names the roles that may
read it (GET) and those that may use each write method; a method a route does not
take answers 405; a role not named answers 403 (or 404 where the route hides that the
object exists); an anonymous caller is sent to sign in (401 on the API). A route
missing from the table fails the test. The wrong-site half of the matrix (every role
of site A against site B's objects) is ``test_site_isolation``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from ecrf.queries.services import query_open
from ecrf.safety.services import adverse_event_record
from ecrf.studies.models import Site
from randomization.models import RandomizationList
from tests.conftest import (
    module_transaction,
    randomized_on_20_february,
    study_user,
    transfer_planned_on_1_march,
)
from tests.core import admin_matrix
from tests.core.test_site_isolation import ROUTES, app_routes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement(
        "CFR11-10D-ACCESS", "CFR11-10G-AUTHORITY", "API-CONV-401", "API-CONV-403-READ-ONLY"
    ),
]

ROLES = ("coordinator", "investigator", "monitor", "data_manager", "statistician", "admin")
METHODS = ("get", "post", "put", "patch", "delete")

ALL = frozenset(ROLES)
COORDINATOR = frozenset({"coordinator"})
INVESTIGATOR = frozenset({"investigator"})
MONITOR = frozenset({"monitor"})
DATA_MANAGER = frozenset({"data_manager"})
LIST_KEEPERS = frozenset({"statistician", "admin"})
QUERY_RAISERS = frozenset({"monitor", "data_manager"})
SPONSOR = frozenset({"monitor", "data_manager", "statistician", "admin"})
EXPORT_OWNER = frozenset({"data_manager"})
WITHDRAWERS = frozenset({"coordinator", "investigator"})
QUERY_ANSWERERS = frozenset({"coordinator", "investigator"})
AUDIT_REVIEWERS = frozenset({"monitor", "data_manager", "admin"})


@dataclass(frozen=True)
class Rule:
    """The roles allowed per method; a method absent from ``allowed`` is not taken (405)."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)
    public: bool = False
    hidden: bool = False
    """A role not allowed gets 404, not 403: the route does not admit the object exists."""
    signs_out: bool = False
    """Whoever uses the route ends up at the sign-in page."""


def rule(
    get: frozenset[str] | None = None,
    post: frozenset[str] | None = None,
    put: frozenset[str] | None = None,
    patch: frozenset[str] | None = None,
    delete: frozenset[str] | None = None,
    **flags: Any,
) -> Rule:
    given = {"get": get, "post": post, "put": put, "patch": patch, "delete": delete}
    return Rule({m: roles for m, roles in given.items() if roles is not None}, **flags)


PUBLIC_GET = rule(get=ALL, public=True)

ACCESS: dict[str, Rule] = {
    # accounts and home
    "core:home": rule(get=ALL),
    "accounts:login": rule(get=ALL, post=ALL, public=True),
    # Signing out ends at the sign-in page, for everyone.
    "accounts:logout": rule(post=ALL, public=True, signs_out=True),
    "accounts:mfa_setup": rule(get=ALL, post=ALL),
    "accounts:mfa_verify": rule(get=ALL, post=ALL),
    "accounts:password_change": rule(get=ALL, post=ALL),
    "accounts:set_language": rule(post=ALL, public=True),
    "accounts:api_token": rule(get=ALL, post=ALL),
    "accounts:access_review": rule(
        get=frozenset({"admin", "data_manager"}), post=frozenset({"admin"})
    ),
    "accounts:access_review_csv": rule(get=frozenset({"admin", "data_manager"})),
    "audit_review:index": rule(get=AUDIT_REVIEWERS),
    "audit_review:sign_off": rule(post=QUERY_RAISERS),
    "audit_review:checkpoints": rule(get=frozenset({"data_manager", "admin"})),
    "healthz": PUBLIC_GET,
    "api-schema": PUBLIC_GET,
    "api-docs": PUBLIC_GET,
    # participants (web)
    "participants:list": rule(get=ALL),
    "participants:create": rule(get=COORDINATOR, post=COORDINATOR),
    "participants:detail": rule(get=ALL),
    "participants:edit": rule(get=COORDINATOR, post=COORDINATOR),
    "participants:history": rule(get=ALL),
    "participants:form": rule(get=ALL),
    "participants:eligibility": rule(get=COORDINATOR, post=COORDINATOR),
    # Live feedback on answers being typed: computes, stores nothing.
    "participants:eligibility_check": rule(post=ALL),
    "participants:consent": rule(get=COORDINATOR, post=COORDINATOR),
    "participants:randomize": rule(get=COORDINATOR, post=COORDINATOR),
    "participants:unblind": rule(get=INVESTIGATOR, post=INVESTIGATOR),
    "participants:withdraw": rule(get=WITHDRAWERS, post=WITHDRAWERS),
    "endpoints:form": rule(get=ALL, post=COORDINATOR),
    "labs:results": rule(get=ALL, post=COORDINATOR),
    "safety:adverse_events": rule(get=ALL, post=COORDINATOR | INVESTIGATOR),
    "safety:adverse_event": rule(get=ALL, post=COORDINATOR | INVESTIGATOR),
    "safety:adverse_event_confirm": rule(post=INVESTIGATOR),
    "safety:awaiting_confirmation": rule(get=ALL),
    "schedule:treatment": rule(get=ALL),
    "schedule:embryo_transfer": rule(post=COORDINATOR),
    "schedule:dose": rule(post=COORDINATOR),
    "schedule:dose_intake": rule(get=ALL, post=COORDINATOR),
    "schedule:dispensing": rule(post=COORDINATOR),
    "schedule:drug_return": rule(post=COORDINATOR),
    "schedule:visit": rule(post=COORDINATOR),
    "schedule:print": rule(get=ALL),
    "schedule:ics": rule(get=ALL),
    # data quality (web)
    "queries:list": rule(get=ALL),
    "queries:csv": rule(get=ALL),
    "queries:open": rule(post=QUERY_RAISERS),
    "queries:step": rule(post=QUERY_ANSWERERS),
    "quality:sign": rule(post=INVESTIGATOR),
    "quality:verify": rule(post=MONITOR),
    "quality:lock": rule(post=DATA_MANAGER),
    "quality:unlock": rule(post=DATA_MANAGER),
    "quality:study_lock": rule(post=DATA_MANAGER),
    "quality:study_unlock": rule(post=DATA_MANAGER),
    "quality:worklist": rule(get=QUERY_RAISERS),
    # randomization lists (web)
    "randomization:index": rule(get=LIST_KEEPERS),
    "randomization:generate": rule(post=LIST_KEEPERS),
    "randomization:import": rule(post=LIST_KEEPERS),
    "randomization:detail": rule(get=LIST_KEEPERS, hidden=True),
    "randomization:activate": rule(post=LIST_KEEPERS, hidden=True),
    "randomization:extend": rule(post=LIST_KEEPERS, hidden=True),
    "randomization:export": rule(get=LIST_KEEPERS, hidden=True),
    # reports and exports (web)
    "reports:index": rule(get=ALL),
    "reports:consort": rule(get=SPONSOR),
    "reports:enrollment": rule(get=ALL),
    "reports:efficacy": rule(get=LIST_KEEPERS),
    "reports:safety": rule(get=SPONSOR),
    "reports:quality": rule(get=ALL),
    "exports:index": rule(get=SPONSOR, post=SPONSOR),
    "exports:status": rule(get=EXPORT_OWNER, hidden=True),
    "exports:download": rule(get=EXPORT_OWNER, hidden=True),
    # API
    "participant-list": rule(get=ALL, post=COORDINATOR),
    "participant-detail": rule(get=ALL, patch=COORDINATOR),
    "participant-eligibility": rule(put=COORDINATOR),
    "participant-consent": rule(post=COORDINATOR),
    "participant-randomize": rule(post=COORDINATOR),
    "participant-embryo-transfer": rule(put=COORDINATOR),
    "participant-doses": rule(post=COORDINATOR),
    "participant-biochemical-pregnancy": rule(put=COORDINATOR),
    "participant-clinical-pregnancy": rule(put=COORDINATOR),
    "participant-withdraw": rule(post=WITHDRAWERS),
    "participant-adverse-events": rule(post=COORDINATOR | INVESTIGATOR),
    "participant-lock": rule(post=DATA_MANAGER, delete=DATA_MANAGER),
    "participant-signature": rule(post=INVESTIGATOR),
    "query-list": rule(get=ALL, post=QUERY_RAISERS),
    "query-detail": rule(get=ALL),
    "query-respond": rule(post=QUERY_ANSWERERS),
    "query-close": rule(post=QUERY_RAISERS),
    "query-reopen": rule(post=QUERY_RAISERS),
    "reports-efficacy": rule(get=LIST_KEEPERS),
    "access-review": rule(get=frozenset({"admin", "data_manager"})),
    "access-reviews": rule(get=frozenset({"admin", "data_manager"}), post=frozenset({"admin"})),
    # Each her own keys; an administrator everyone's.
    "api-keys": rule(get=ALL),
    "audit-events": rule(get=AUDIT_REVIEWERS),
    "audit-reviews": rule(get=AUDIT_REVIEWERS, post=QUERY_RAISERS),
    "form-catalogue": rule(get=ALL),
    "participant-form": rule(get=ALL),
    "participant-form-verification": rule(post=MONITOR),
    "export-list": rule(get=SPONSOR, post=SPONSOR),
    "export-detail": rule(get=EXPORT_OWNER, hidden=True),
    "export-download": rule(get=EXPORT_OWNER, hidden=True),
}


def test_every_route_is_in_the_access_table():
    routes = set(app_routes())
    assert sorted(routes - set(ACCESS)) == [], "routes missing from ACCESS"
    assert sorted(set(ACCESS) - routes) == [], "ACCESS names routes that no longer exist"


def _outcome(response: Any) -> str:
    code = response.status_code
    if code >= 500:
        return f"error {code}"
    if code == 401 or (code == 302 and "/accounts/login/" in response.get("Location", "")):
        return "sign in"
    return {403: "denied", 404: "hidden", 405: "method"}.get(code, "allowed")


def _expected(entry: Rule, principal: str, method: str) -> str:
    if principal == "anonymous" and not entry.public:
        return "sign in"
    if method not in entry.allowed:
        return "method"
    if entry.signs_out:
        return "sign in"
    if principal == "anonymous" or principal in entry.allowed[method]:
        return "allowed"
    return "hidden" if entry.hidden else "denied"


@dataclass(frozen=True)
class Scenery:
    """A user of each role and an object of each kind a route takes."""

    users: dict[str, Any]
    objects: dict[str, Any]


@pytest.fixture(scope="module")
def scenery(trial_built: None, django_db_blocker: Any) -> Iterator[Scenery]:
    """Built once for the module's tests, each of which rolls back what it wrote."""
    from ecrf.exports.models import ExportJob

    with module_transaction(django_db_blocker):
        with django_db_blocker.unblock():
            coordinator_a = study_user("coordinator", ["S01"], username="coordinator_a")
            transferred = transfer_planned_on_1_march(
                randomized_on_20_february(Site.objects.get(code="S01"), coordinator_a),
                coordinator_a,
            )
            users = {role: study_user(role) for role in ROLES}
            objects = {
                "participant": transferred,
                "query": query_open(
                    participant=transferred,
                    record="consent",
                    field="consent_date",
                    text="Please check the consent date against the signed form.",
                    performed_by=users["monitor"],
                ),
                "randomization_list": RandomizationList.objects.get(site__code="S01"),
                "adverse_event": adverse_event_record(
                    participant=transferred,
                    term="Headache",
                    onset_date=dt.date(2026, 3, 2),
                    ctcae_grade=1,
                    serious=False,
                    related=False,
                    outcome="recovered",
                    performed_by=users["coordinator"],
                ),
                "export": ExportJob.objects.create(
                    owner=users["data_manager"], kind="audit_trail", format="csv"
                ),
            }
        yield Scenery(users=users, objects=objects)


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_each_role_gets_what_the_table_says(name, scenery, client_for, api_for):
    users, objects = scenery.users, scenery.objects
    kind = ROUTES[name]
    kwargs: dict[str, Any] = {}
    if kind is not None:
        kind_name, extra = kind if isinstance(kind, tuple) else (kind, {})
        pk_name = "query_pk" if name == "queries:step" else "pk"
        kwargs = {pk_name: objects[kind_name].pk, **extra}
        if "ae_pk" in kwargs:
            kwargs["ae_pk"] = objects["adverse_event"].pk
    url = reverse(name, kwargs=kwargs)
    api = url.startswith("/api/")
    entry = ACCESS[name]
    wrong: list[str] = []
    for principal in ("anonymous", *ROLES):
        client: Any = None
        for method in METHODS:
            # Signing out changes what the next request is judged on: a fresh client then.
            if client is None or entry.signs_out:
                if principal == "anonymous":
                    client = APIClient() if api else Client()
                else:
                    user = users[principal]
                    client = api_for(user) if api else client_for(user)
            call = getattr(client, method)
            response = call(url, {}, format="json") if api else call(url)
            got, expected = _outcome(response), _expected(entry, principal, method)
            if got != expected:
                wrong.append(
                    f"{principal} {method.upper()}: {got} ({response.status_code}), "
                    f"expected {expected}"
                )
    assert wrong == [], f"{url}\n" + "\n".join(wrong)


# -- the admin site --------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_scenery(scenery: Scenery, django_db_blocker: Any) -> Scenery:
    """The scenery, with a record of every kind the admin site shows."""
    with django_db_blocker.unblock():
        admin_matrix.admin_records(scenery.users)
        admin_matrix.serious_adverse_event(
            scenery.objects["participant"], scenery.users["coordinator"]
        )
    return scenery


def test_every_admin_page_is_in_the_matrix(trial_built):
    # Asks for the trial so as not to empty the tables under the module's open scenery.
    pages = {route.name for route in admin_matrix.admin_routes()}
    site = {f"admin:{name}" for name in admin_matrix.SITE_PAGES}
    unknown = sorted(admin_matrix.admin_url_names() - pages - site)
    assert unknown == [], "admin URLs neither of a registered ModelAdmin nor of the site"


def test_only_the_admin_role_enters_the_admin_site(admin_scenery, client_for):
    url = reverse("admin:index")
    got = {"anonymous": admin_matrix.outcome(Client().get(url))}
    for role in ROLES:
        got[role] = admin_matrix.outcome(client_for(admin_scenery.users[role]).get(url))
    assert got == {
        principal: "allowed" if principal in admin_matrix.ADMIN_SITE_ROLES else "sign in"
        for principal in ("anonymous", *ROLES)
    }


@pytest.mark.parametrize("route", admin_matrix.admin_routes(), ids=lambda route: route.id)
def test_each_role_gets_what_the_admin_policy_says(route, admin_scenery, client_for):
    users = admin_scenery.users
    record = admin_matrix.record_of(route.model) if route.names_a_record else None
    if route.names_a_record and record is None:
        assert not admin_matrix.admin_may(route, users["admin"], "get", None), (
            f"No {route.model._meta.label} to open in the admin: add one to admin_records()"
        )
    url = route.url(record.pk if record is not None else 0)
    wrong: list[str] = []
    for principal in ("anonymous", *ROLES):
        user = users.get(principal)
        client = Client() if user is None else client_for(user)
        for method in ("get", "post"):
            # An empty POST saves nothing; should one ever delete, the next caller still
            # finds the record.
            with transaction.atomic():
                response = getattr(client, method)(url)
                transaction.set_rollback(True)
            got = admin_matrix.outcome(response)
            allowed = admin_matrix.expected(route, principal, user, method, record)
            if got not in allowed:
                wrong.append(
                    f"{principal} {method.upper()}: {got} ({response.status_code}), "
                    f"expected {' or '.join(sorted(allowed))}"
                )
    assert wrong == [], f"{url}\n" + "\n".join(wrong)
