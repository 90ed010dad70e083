"""What every signed-in request reads (her session, her account, the device of her second
factor) through compiled statements, with the outcomes Django and django-otp give."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.accounts.backends import ModelBackend
from ecrf.accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _home(client):
    return client.get("/")


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_a_signed_in_request_reads_her_session_account_and_device_once_each(
    client_for, coordinator_a
):
    client = client_for(coordinator_a)
    assert _home(client).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert _home(client).status_code == 200
    tables = [q["sql"].split(" FROM ", 1)[1].split()[0] for q in captured.captured_queries[:3]]
    assert tables == ['"django_session"', '"accounts_user"', '"otp_totp_totpdevice"']


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_a_session_past_its_expiry_reads_as_none_and_signs_her_out(client_for, coordinator_a):
    client = client_for(coordinator_a)
    key = client.session.session_key
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None
    assert _home(client).headers["Location"].startswith("/accounts/login/")


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_a_deactivated_or_unknown_account_is_no_user(client_for, coordinator_a):
    backend = ModelBackend()
    assert backend.get_user(coordinator_a.pk) == coordinator_a
    assert backend.get_user(str(coordinator_a.pk)) == coordinator_a
    assert backend.get_user(-5) is None
    assert backend.get_user("not a number") is None
    client = client_for(coordinator_a)
    coordinator_a.is_active = False
    coordinator_a.save(update_fields=["is_active"])
    assert backend.get_user(coordinator_a.pk) is None
    assert _home(client).headers["Location"].startswith("/accounts/login/")


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS")
@pytest.mark.parametrize(
    "device_id",
    [
        "another user's",
        "unconfirmed",
        "otp_totp.totpdevice/999999",
        "otp_totp.totpdevice/not-a-number",
        "accounts.user/1",
        "no-such-app.device/1",
        "garbage",
    ],
)
def test_a_session_without_her_own_confirmed_device_is_not_verified(
    client_for, coordinator_a, coordinator_b, device_id
):
    client = client_for(coordinator_a)
    if device_id == "another user's":
        device_id = TOTPDevice.objects.create(user=coordinator_b, confirmed=True).persistent_id
    elif device_id == "unconfirmed":
        device_id = TOTPDevice.objects.create(user=coordinator_a, confirmed=False).persistent_id
    session = client.session
    session["otp_device_id"] = device_id
    session.save()
    assert _home(client).headers["Location"].startswith("/accounts/mfa/verify/")
    assert "otp_device_id" not in client.session
