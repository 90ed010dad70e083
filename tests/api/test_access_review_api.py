"""``GET /api/v1/access-review/`` (API contract, Review) and the recorded access reviews,
``/api/v1/access-reviews/``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from ecrf.accounts.models import AccessReview
from ecrf.accounts.services import api_token_issue
from ecrf.audit.context import change_context

from ..factories import enrol_authenticator

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("ICH-E6R3-4.3.8-USER-MANAGEMENT", "API-CONV-403-READ-ONLY"),
]

ACCOUNTS = "/api/v1/access-review/"
REVIEWS = "/api/v1/access-reviews/"
CONTRACT_KEYS = {
    "username",
    "role",
    "sites",
    "active",
    "last_login",
    "mfa_enrolled",
    "api_keys",
    "grants",
}
GRANT_KEYS = {"what", "granted_at", "granted_by", "revoked_at", "revoked_by"}


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="admin_a")


def test_an_admin_reads_every_account_in_the_contract_shape(api_for, admin, make_user):
    monitor = make_user("monitor", ["S01", "S02"], username="monitor_m")
    with change_context(performed_by=admin):
        monitor.role = "data_manager"
        monitor.save()
    response = api_for(admin).get(ACCOUNTS)
    assert response.status_code == 200
    accounts = {a["username"]: a for a in response.json()}
    moved = accounts["monitor_m"]
    assert set(moved) >= CONTRACT_KEYS
    assert moved["role"] == "data_manager"
    assert moved["sites"] == ["S01", "S02"]
    assert moved["active"] is True and moved["mfa_enrolled"] is False
    assert moved["api_keys"] == [] and moved["locked_out"] is False
    assert all(set(g) >= GRANT_KEYS for g in moved["grants"])
    [old_role] = [g for g in moved["grants"] if g["kind"] == "role" and g["revoked_at"]]
    assert old_role["what"] == "Role: Monitor" and old_role["revoked_by"] == "admin_a"
    assert old_role["revoked_at"].endswith("+09:00")
    [key] = accounts["admin_a"]["api_keys"]
    assert key["created"].endswith("+09:00")


def test_labels_follow_accept_language(api_for, admin, make_user):
    make_user("monitor", ["S01"], username="monitor_m")
    client = api_for(admin)
    english = {a["username"]: a for a in client.get(ACCOUNTS, HTTP_ACCEPT_LANGUAGE="en").json()}
    japanese = {a["username"]: a for a in client.get(ACCOUNTS, HTTP_ACCEPT_LANGUAGE="ja").json()}
    assert english["monitor_m"]["role_label"] == "Monitor"
    assert japanese["monitor_m"]["role"] == english["monitor_m"]["role"] == "monitor"
    assert japanese["monitor_m"]["role_label"] == "モニター"
    role_grant = next(g for g in japanese["monitor_m"]["grants"] if g["kind"] == "role")
    assert "モニター" in role_grant["what"]


def test_a_data_manager_reads_but_may_not_record(api_for, make_user):
    client = api_for(make_user("data_manager", username="dm"))
    assert client.get(ACCOUNTS).status_code == 200
    assert client.get(REVIEWS).status_code == 200
    refused = client.post(
        REVIEWS, {"reviewed_on": "2026-01-05", "comment": "Looks fine"}, format="json"
    )
    assert refused.status_code == 403
    assert not AccessReview.objects.exists()


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor", "statistician"])
def test_other_roles_get_403(api_for, make_user, role):
    client = api_for(make_user(role))
    assert client.get(ACCOUNTS).status_code == 403
    assert client.get(REVIEWS).status_code == 403


def test_no_key_answers_401():
    assert APIClient().get(ACCOUNTS).status_code == 401


def test_an_admin_records_a_review_answered_201_and_listed_latest_first(api_for, admin, make_user):
    make_user("monitor", ["S01"], username="monitor_m")
    client = api_for(admin)
    first = client.post(
        REVIEWS, {"reviewed_on": "2026-01-05", "comment": "Nothing to change."}, format="json"
    )
    assert first.status_code == 201, first.content
    second = client.post(
        REVIEWS,
        {
            "reviewed_on": timezone.localdate().isoformat(),
            "comment": "Second quarter.",
            "accounts_to_change": [{"username": "monitor_m", "change": "Deactivate: left"}],
        },
        format="json",
    )
    assert second.status_code == 201, second.content
    body = second.json()
    assert body["accounts_to_change"] == [{"username": "monitor_m", "change": "Deactivate: left"}]
    assert body["recorded_by"] == "admin_a"
    listed = client.get(REVIEWS).json()
    assert [r["id"] for r in listed] == [body["id"], first.json()["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"comment": "Review"}, "reviewed_on"),
        ({"reviewed_on": "2026-01-05"}, "comment"),
        ({"reviewed_on": "2026-01-05", "comment": "   "}, "comment"),
        ({"reviewed_on": "2999-01-01", "comment": "Review"}, "reviewed_on"),
        (
            {
                "reviewed_on": "2026-01-05",
                "comment": "Review",
                "accounts_to_change": [{"username": "nobody", "change": "Deactivate"}],
            },
            "accounts_to_change",
        ),
        (
            {
                "reviewed_on": "2026-01-05",
                "comment": "Review",
                "accounts_to_change": [{"username": "admin_a"}],
            },
            "accounts_to_change",
        ),
        (
            {"reviewed_on": "2026-01-05", "comment": "Review", "accounts_to_change": "admin_a"},
            "accounts_to_change",
        ),
    ],
)
def test_bad_input_answers_400_naming_the_field(api_for, admin, payload, field):
    response = api_for(admin).post(REVIEWS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AccessReview.objects.exists()


def test_the_account_list_answers_with_the_same_number_of_queries_for_many_accounts(
    api_for, admin, make_user, django_assert_num_queries
):
    client = api_for(admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(ACCOUNTS).status_code == 200
        return len(captured)

    make_user("monitor", ["S01"], username="only_one")
    few = queries()
    for n in range(10):
        user = make_user("coordinator", ["S01", "S02"], username=f"many_{n}")
        enrol_authenticator(user)
        api_token_issue(user=user, performed_by=admin)
        with change_context(performed_by=admin):
            user.is_active = n % 2 == 0
            user.save()
    assert queries() == few
    # The key with its user (1); accounts, memberships and one query per kind of grant (5).
    with django_assert_num_queries(6):
        client.get(ACCOUNTS)


def test_the_openapi_document_describes_both_routes():
    paths = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert "get" in paths["/api/v1/access-review/"]
    assert {"get", "post"} <= set(paths["/api/v1/access-reviews/"])
