"""API keys: stored as digests, expiring, listed and revoked by their owner and by
administrators, revoked on password change, deactivation and lockout, and tied to the
second factor where the study requires it."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from ecrf.accounts.models import ApiKey, User
from ecrf.accounts.services import api_token_issue
from ecrf.studies.models import Study

from ..factories import PASSWORD, api_key_for, deactivation_form, enrol_authenticator

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("CFR11-300-API-KEYS")]

PARTICIPANTS = "/api/v1/participants/"
NEW_PASSWORD = "Willow-Harbour-Lantern-58"


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _status(key: str) -> int:
    return _api(key).get(PARTICIPANTS).status_code


def _stored_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM knox_authtoken t")
        return " ".join(row[0] for row in cursor.fetchall())


# -- at rest and expiry -------------------------------------------------------------------


def test_a_key_is_stored_only_as_its_digest(coordinator_a):
    key = api_key_for(coordinator_a)
    stored = _stored_rows()
    assert key not in stored
    assert hashlib.sha512(key.encode()).hexdigest() in stored
    assert _status(key) == 200


def test_a_key_expires_after_the_configured_time_by_default_ninety_days(coordinator_a, settings):
    enrol_authenticator(coordinator_a)
    issued = api_token_issue(user=coordinator_a, performed_by=coordinator_a)
    assert issued.api_key.expiry is not None
    lifetime = issued.api_key.expiry - issued.api_key.created
    assert dt.timedelta(days=90) - dt.timedelta(minutes=1) < lifetime <= dt.timedelta(days=90)

    settings.API_KEY_TTL = dt.timedelta(days=7)
    shorter = api_token_issue(user=coordinator_a, performed_by=coordinator_a).api_key
    assert shorter.expiry is not None
    assert shorter.expiry - shorter.created <= dt.timedelta(days=7)


def test_a_key_past_its_expiry_answers_401_json(coordinator_a):
    key = api_key_for(coordinator_a)
    ApiKey.objects.filter(user=coordinator_a).update(
        expiry=timezone.now() - dt.timedelta(seconds=1)
    )
    response = _api(key).get(PARTICIPANTS)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Token ", "Token abc def", "Token zzzz", "Token " + "é" * 40, "Token " + "0" * 40],
)
def test_a_malformed_or_unknown_key_answers_401_json(header, coordinator_a):
    api_key_for(coordinator_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(PARTICIPANTS)
    assert response.status_code == 401
    assert "detail" in response.json()


# -- listing and revoking -----------------------------------------------------------------


def test_the_owner_lists_and_revokes_her_key_on_her_page(client_for, coordinator_a):
    key = api_key_for(coordinator_a)
    api_key = ApiKey.objects.get(user=coordinator_a)
    client = client_for(coordinator_a)
    page = client.get("/accounts/api-token/").content.decode()
    assert api_key.label in page
    assert key not in page and api_key.digest not in page

    response = client.post("/accounts/api-token/", {"revoke": api_key.token_key})
    assert response.status_code == 302
    assert not ApiKey.objects.filter(user=coordinator_a).exists()
    assert _status(key) == 401


def test_she_cannot_revoke_anyone_elses_key(client_for, coordinator_a, coordinator_b):
    key_b = api_key_for(coordinator_b)
    other = ApiKey.objects.get(user=coordinator_b)
    client = client_for(coordinator_a)
    assert other.label not in client.get("/accounts/api-token/").content.decode()
    assert client.post("/accounts/api-token/", {"revoke": other.token_key}).status_code == 404
    assert client.post("/accounts/api-token/", {"revoke": "\x00nul"}).status_code == 404
    assert _status(key_b) == 200


def test_an_administrator_lists_and_revokes_anyones_key(client_for, make_user, coordinator_b):
    key_b = api_key_for(coordinator_b)
    other = ApiKey.objects.get(user=coordinator_b)
    admin_client = client_for(make_user("admin"))
    page = admin_client.get("/accounts/api-token/").content.decode()
    assert other.label in page and coordinator_b.username in page
    assert admin_client.post("/accounts/api-token/", {"revoke": other.token_key}).status_code == 302
    assert _status(key_b) == 401


def test_the_api_lists_her_own_keys_and_an_administrator_everyones(
    api_for, make_user, coordinator_a, coordinator_b
):
    key_b = api_key_for(coordinator_b)
    own = api_for(coordinator_a).get("/api/v1/api-keys/").json()
    assert [k["username"] for k in own] == [coordinator_a.username]
    everyone = api_for(make_user("admin", username="keeper")).get("/api/v1/api-keys/")
    assert everyone.status_code == 200
    usernames = {k["username"] for k in everyone.json()}
    assert {coordinator_a.username, coordinator_b.username, "keeper"} <= usernames
    assert key_b not in everyone.content.decode()
    assert ApiKey.objects.get(user=coordinator_b).digest not in everyone.content.decode()


# -- revoked when the account changes -----------------------------------------------------


def test_changing_her_password_revokes_her_keys(client_for, coordinator_a):
    key = api_key_for(coordinator_a)
    client = client_for(coordinator_a)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _status(key) == 401
    assert client.get("/").status_code == 200  # still signed in
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password(NEW_PASSWORD)


def test_an_administrator_setting_her_password_revokes_her_keys(
    client_for, make_user, coordinator_b
):
    key = api_key_for(coordinator_b)
    response = client_for(make_user("admin")).post(
        f"/admin/accounts/user/{coordinator_b.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    coordinator_b.refresh_from_db()
    assert coordinator_b.check_password(NEW_PASSWORD)
    assert _status(key) == 401
    assert not ApiKey.objects.filter(user=coordinator_b).exists()


def test_deactivation_in_the_admin_revokes_her_keys(client_for, make_user, coordinator_b):
    api_key_for(coordinator_b)
    response = client_for(make_user("admin")).post(
        f"/admin/accounts/user/{coordinator_b.pk}/change/",
        deactivation_form(coordinator_b, "Left the study team"),
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=coordinator_b.pk).is_active
    assert not ApiKey.objects.filter(user=coordinator_b).exists()


def test_a_key_of_a_user_deactivated_by_any_other_path_is_refused(coordinator_a):
    key = api_key_for(coordinator_a)
    User.objects.filter(pk=coordinator_a.pk).update(is_active=False)
    assert _status(key) == 401


def test_a_lockout_after_failed_sign_ins_revokes_her_keys(coordinator_a):
    key = api_key_for(coordinator_a)
    client = Client()
    for _attempt in range(5):
        client.post("/accounts/login/", {"username": coordinator_a.username, "password": "x"})
    assert not ApiKey.objects.filter(user=coordinator_a).exists()
    assert _status(key) == 401
    with pytest.raises(Exception, match="locked"):
        api_token_issue(user=coordinator_a, performed_by=None)


def test_a_key_of_a_locked_account_is_refused_with_the_lockout_json(coordinator_a):
    key = api_key_for(coordinator_a)
    # A lock recorded without our receiver running (e.g. by another process's handler).
    AccessAttempt.objects.create(
        username=coordinator_a.username,
        ip_address="192.0.2.7",
        user_agent="script",
        get_data="",
        post_data="",
        http_accept="*/*",
        path_info="/accounts/login/",
        failures_since_start=5,
        attempt_time=timezone.now(),
    )
    response = _api(key).get(PARTICIPANTS)
    assert response.status_code == 403
    assert "locked" in response.json()["detail"]


def test_a_lockout_of_the_address_alone_leaves_the_accounts_tried_their_keys(
    coordinator_a, settings
):
    settings.ECRF_ADDRESS_FAILURE_LIMIT = 3
    key = api_key_for(coordinator_a)
    client = Client()
    for username in ["someone", "another", coordinator_a.username, "a_fourth"]:
        client.post("/accounts/login/", {"username": username, "password": "wrong"})
    assert _status(key) == 200


# -- the second factor --------------------------------------------------------------------


def test_no_key_is_issued_without_an_authenticator_where_the_study_requires_one(coordinator_a):
    with pytest.raises(Exception, match="two-factor") as refused:
        api_token_issue(user=coordinator_a, performed_by=None)
    assert "authenticator" in str(refused.value)
    assert not ApiKey.objects.exists()
    with pytest.raises(CommandError, match="authenticator"):
        call_command("api_token", coordinator_a.username)


def test_a_key_whose_owner_has_no_authenticator_is_refused_where_the_study_requires_one(
    coordinator_a,
):
    key = api_key_for(coordinator_a)
    TOTPDevice.objects.filter(user=coordinator_a).delete()
    response = _api(key).get(PARTICIPANTS)
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]


def test_where_the_study_does_not_require_it_a_key_needs_no_authenticator(coordinator_a):
    Study.objects.update(mfa_required=False)
    key = api_token_issue(user=coordinator_a, performed_by=None).key
    assert _status(key) == 200


def test_the_command_prints_the_key_and_its_expiry(coordinator_a, capsys):
    enrol_authenticator(coordinator_a)
    call_command("api_token", coordinator_a.username)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "valid until" in lines[-2]
    assert _status(lines[-1]) == 200


def test_beat_removes_expired_keys_and_the_access_review_shows_them_revoked(coordinator_a):
    from ecrf.accounts.selectors import access_review_accounts
    from ecrf.accounts.tasks import api_keys_remove_expired_task

    api_key_for(coordinator_a)
    ApiKey.objects.filter(user=coordinator_a).update(
        expiry=timezone.now() - dt.timedelta(minutes=5)
    )
    assert api_keys_remove_expired_task() == 1
    assert api_keys_remove_expired_task() == 0
    account = next(a for a in access_review_accounts() if a.username == coordinator_a.username)
    assert account.api_keys == []
    keys = [g for g in account.grants if g.kind == "api_key"]
    assert keys and all(g.revoked_at is not None for g in keys)


def test_the_service_refuses_a_revocation_by_anyone_but_the_owner_or_an_admin(
    coordinator_a, coordinator_b, make_user
):
    from django.core.exceptions import PermissionDenied

    from ecrf.accounts.services import api_key_revoke

    api_key_for(coordinator_b)
    other = ApiKey.objects.get(user=coordinator_b)
    with pytest.raises(PermissionDenied):
        api_key_revoke(api_key=other, performed_by=coordinator_a)
    assert ApiKey.objects.filter(user=coordinator_b).exists()
    api_key_revoke(api_key=other, performed_by=make_user("admin"))
    assert not ApiKey.objects.filter(user=coordinator_b).exists()
