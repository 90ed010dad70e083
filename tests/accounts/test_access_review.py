"""The access review: who may reach what, since when and granted by whom, and the
periodic review an administrator records (ICH E6(R3) 4.3.8)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.accounts.models import AccessReview, SiteMembership, User
from ecrf.accounts.selectors import AccountAccess, Grant, access_review_accounts
from ecrf.accounts.services import access_review_record, api_token_issue
from ecrf.audit.context import change_context

from ..factories import enrol_authenticator

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("ICH-E6R3-4.3.8-USER-MANAGEMENT", "CFR11-10D-ACCESS"),
]

PAGE = "/accounts/access-review/"
CSV_URL = "/accounts/access-review/csv/"


def account(username: str) -> AccountAccess:
    [found] = [a for a in access_review_accounts() if a.username == username]
    return found


def grants_of(username: str, kind: str) -> list[Grant]:
    return [g for g in account(username).grants if g.kind == kind]


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="admin_a")


def test_a_role_change_revokes_the_old_role_and_grants_the_new_one_naming_the_admin(
    make_user, admin
):
    monitor = make_user("monitor", ["S01"], username="monitor_m")
    with change_context(performed_by=admin):
        monitor.role = "data_manager"
        monitor.save()

    old, new = grants_of("monitor_m", "role")
    assert old.what == "Role: Monitor"
    assert old.granted_at is not None and old.revoked_by == "admin_a"
    assert new.what == "Role: Data manager"
    assert new.granted_by == "admin_a" and new.revoked_at is None
    assert old.revoked_at == new.granted_at
    assert account("monitor_m").role_label == "Data manager"


def test_a_removed_site_membership_is_listed_as_revoked_with_when_and_by_whom(
    make_user, admin, site_a
):
    monitor = make_user("monitor", ["S01", "S02"], username="monitor_two_sites")
    with change_context(performed_by=admin):
        SiteMembership.objects.filter(user=monitor, site=site_a).delete()

    sites = {g.what: g for g in grants_of("monitor_two_sites", "site")}
    s01 = next(g for what, g in sites.items() if what.startswith("Site S01"))
    s02 = next(g for what, g in sites.items() if what.startswith("Site S02"))
    assert s01.revoked_by == "admin_a" and s01.revoked_at is not None
    assert s02.revoked_at is None and s02.granted_at is not None
    assert [site.code for site in account("monitor_two_sites").sites] == ["S02"]


def test_deactivation_and_reactivation_are_each_listed(make_user, admin):
    coordinator = make_user("coordinator", ["S01"], username="leaver")
    with change_context(performed_by=admin):
        coordinator.is_active = False
        coordinator.save()
    with change_context(performed_by=admin):
        coordinator.is_active = True
        coordinator.save()

    first, second = grants_of("leaver", "active")
    assert first.revoked_by == "admin_a"
    assert second.granted_by == "admin_a" and second.revoked_at is None
    assert account("leaver").active is True


def test_issuing_a_new_api_key_revokes_the_old_one_and_the_key_never_enters_the_audit_trail(
    make_user, admin
):
    statistician = make_user("statistician", username="stats")
    enrol_authenticator(statistician)
    first = api_token_issue(user=statistician, performed_by=statistician)
    second = api_token_issue(user=statistician, performed_by=admin)

    old, new = grants_of("stats", "api_key")
    assert old.granted_by == "stats" and old.revoked_by == "admin_a"
    assert new.granted_by == "admin_a" and new.revoked_at is None
    assert account("stats").api_keys == [second.api_key.created]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(e)::text FROM accounts_apikeyevent e")
        events = " ".join(row[0] for row in cursor.fetchall())
    assert first.key not in events and second.key not in events


def test_mfa_enrolment_counts_only_a_confirmed_authenticator(make_user):
    make_user("monitor", ["S01"], username="with_app")
    make_user("monitor", ["S01"], username="pending_app")
    TOTPDevice.objects.create(user=account_user("with_app"), name="app", confirmed=True)
    TOTPDevice.objects.create(user=account_user("pending_app"), name="app", confirmed=False)

    assert account("with_app").mfa_enrolled is True
    assert account("pending_app").mfa_enrolled is False


def account_user(username: str) -> User:
    return User.objects.get(username=username)


def test_an_account_is_shown_locked_out_after_the_configured_number_of_failed_sign_ins(
    make_user,
):
    make_user("coordinator", ["S01"], username="forgetful")
    client = Client()
    for _attempt in range(settings.ECRF_ACCOUNT_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "forgetful", "password": "wrong"})
    assert account("forgetful").locked_out is False
    client.post("/accounts/login/", {"username": "forgetful", "password": "wrong"})
    assert account("forgetful").locked_out is True


def test_an_admin_sees_every_account_with_times_in_tokyo_and_a_form_to_record(
    client_for, admin, make_user
):
    make_user("monitor", ["S01"], username="monitor_m")
    page = client_for(admin).get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="account-monitor_m"' in html
    assert "Monitor" in html and "S01" in html
    assert 'id="access-review-form"' in html
    assert 'name="change_monitor_m"' in html
    assert "+09:00" in html
    assert settings.TIME_ZONE == "Asia/Tokyo"


def test_a_data_manager_reads_the_page_but_cannot_record_a_review(client_for, make_user):
    client = client_for(make_user("data_manager", username="dm"))
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'id="access-review-form"' not in page.content.decode()
    refused = client.post(PAGE, {"reviewed_on": "2026-03-01", "comment": "All fine"})
    assert refused.status_code == 403
    assert not AccessReview.objects.exists()


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor", "statistician"])
def test_other_roles_are_refused_the_page_and_the_csv(client_for, make_user, role):
    client = client_for(make_user(role))
    assert client.get(PAGE).status_code == 403
    assert client.get(CSV_URL).status_code == 403


def test_the_navigation_offers_the_page_to_admins_and_data_managers_only(client_for, make_user):
    for role, shown in [("admin", True), ("data_manager", True), ("monitor", False)]:
        html = client_for(make_user(role)).get("/").content.decode()
        assert (f'href="{PAGE}"' in html) is shown, role


def test_the_page_answers_with_the_same_number_of_queries_for_many_accounts(
    client_for, admin, make_user, django_assert_num_queries
):
    client = client_for(admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    for n in range(3):
        make_user("monitor", ["S01", "S02"], username=f"few_{n}")
    few = queries()
    for n in range(12):
        user = make_user("coordinator", ["S02"], username=f"many_{n}")
        enrol_authenticator(user)
        api_token_issue(user=user, performed_by=admin)
    assert queries() == few
    # Sign-in, second factor and session (5); accounts with their keys, memberships, one
    # query per kind of audited grant (5) and the recorded reviews (2).
    with django_assert_num_queries(12):
        client.get(PAGE)


def test_an_admin_records_a_review_with_accounts_to_change_listed_latest_first_and_audited(
    client_for, admin, make_user
):
    make_user("monitor", ["S01"], username="monitor_m")
    client = client_for(admin)
    with change_context(performed_by=admin):
        access_review_record(
            reviewed_on=dt.date(2026, 1, 5),
            comment="Quarterly review: nothing to change.",
            accounts_to_change=[],
            performed_by=admin,
        )
    response = client.post(
        PAGE,
        {
            "reviewed_on": timezone.localdate().isoformat(),
            "comment": "Second quarter review.",
            "change_monitor_m": "Remove site S01: moved to the sponsor's office",
        },
    )
    assert response.status_code == 302

    latest, earlier = AccessReview.objects.order_by("-reviewed_on")
    assert [(c.account.username, c.change) for c in latest.changes.all()] == [
        ("monitor_m", "Remove site S01: moved to the sponsor's office")
    ]
    assert latest.recorded_by == admin
    html = client.get(PAGE).content.decode()
    assert html.index(f'id="access-review-{latest.pk}"') < html.index(
        f'id="access-review-{earlier.pk}"'
    )
    assert "Remove site S01: moved to the sponsor&#x27;s office" in html
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pgh_context ->> 'actor' FROM accounts_accessreviewevent WHERE pgh_obj_id = %s",
            [latest.pk],
        )
        assert cursor.fetchall() == [("admin_a",)]
        cursor.execute(
            "SELECT count(*) FROM accounts_accessreviewchangeevent WHERE review_id = %s",
            [latest.pk],
        )
        assert cursor.fetchone() == (1,)


def test_a_review_dated_in_the_future_is_refused_naming_the_date(client_for, admin):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client_for(admin).post(
        PAGE, {"reviewed_on": tomorrow.isoformat(), "comment": "Review"}
    )
    assert response.status_code == 400
    assert "in the future" in response.context["form"].errors["reviewed_on"][0]
    assert not AccessReview.objects.exists()


def test_a_review_without_a_comment_is_refused_naming_the_comment(client_for, admin):
    response = client_for(admin).post(PAGE, {"reviewed_on": "2026-01-05", "comment": ""})
    assert response.status_code == 400
    assert "comment" in response.context["form"].errors


def test_the_service_refuses_unknown_or_repeated_accounts_and_non_admins(admin, make_user):
    make_user("monitor", ["S01"], username="monitor_m")
    with pytest.raises(ValidationError) as unknown:
        access_review_record(
            reviewed_on=dt.date(2026, 1, 5),
            comment="Review",
            accounts_to_change=[{"username": "nobody", "change": "Deactivate"}],
            performed_by=admin,
        )
    assert "nobody" in unknown.value.message_dict["accounts_to_change"][0]
    with pytest.raises(ValidationError) as twice:
        access_review_record(
            reviewed_on=dt.date(2026, 1, 5),
            comment="Review",
            accounts_to_change=[
                {"username": "monitor_m", "change": "Deactivate"},
                {"username": "monitor_m", "change": "Remove S01"},
            ],
            performed_by=admin,
        )
    assert "more than once" in twice.value.message_dict["accounts_to_change"][0]
    with pytest.raises(PermissionDenied):
        access_review_record(
            reviewed_on=dt.date(2026, 1, 5),
            comment="Review",
            accounts_to_change=[],
            performed_by=make_user("data_manager"),
        )
    assert not AccessReview.objects.exists()


def test_the_csv_has_one_row_per_permission_with_who_and_when(client_for, admin, make_user):
    monitor = make_user("monitor", ["S01"], username="monitor_m")
    with change_context(performed_by=admin):
        monitor.is_active = False
        monitor.save()
    response = client_for(make_user("data_manager", username="dm")).get(CSV_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Username", "Name", "Role"]
    assert header[-5:] == ["Permission", "Granted at", "Granted by", "Revoked at", "Revoked by"]
    mine = [dict(zip(header, row, strict=True)) for row in body if row[0] == "monitor_m"]
    active = next(r for r in mine if r["Permission"].startswith("Active account"))
    assert active["Revoked by"] == "admin_a"
    assert active["Revoked at"].endswith("+09:00")
    assert {r["Active"] for r in mine} == {"No"}
    assert any(r["Permission"].startswith("Site S01") for r in mine)
