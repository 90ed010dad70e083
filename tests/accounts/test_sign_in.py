"""Sign-in, lockout, two-factor authentication, idle timeout and password change."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.accounts.middleware import SIGNED_IN_COOKIE

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def _current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_anonymous_visitor_is_sent_to_sign_in():
    response = Client().get("/participants/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_wrong_password_is_refused_with_a_clear_message(coordinator_a):
    response = _login(Client(), coordinator_a.username, "wrong-password")
    assert response.status_code == 200
    assert b"The username or password is not correct" in response.content
    assert "_auth_user_id" not in Client().session


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS", "ICH-E6R3-4.3.3-SECURITY")
def test_five_wrong_passwords_lock_the_account(coordinator_a):
    client = Client()
    for _ in range(5):
        _login(client, coordinator_a.username, "wrong-password")
    response = _login(client, coordinator_a.username, PASSWORD)
    assert response.status_code == 403
    assert b'id="locked"' in response.content
    assert client.get("/").status_code == 302


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS", "CFR11-10A-INVALID")
def test_an_overlong_username_is_refused_and_its_failures_still_lock(coordinator_a):
    client = Client()
    overlong = "x" * 400
    responses = [_login(client, overlong, "wrong-password") for _ in range(5)]
    assert [r.status_code for r in responses[:4]] == [200] * 4
    assert b"The username or password is not correct" in responses[0].content
    assert responses[4].status_code == 403


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS")
def test_four_wrong_passwords_do_not_lock(coordinator_a):
    client = Client()
    for _ in range(4):
        _login(client, coordinator_a.username, "wrong-password")
    assert _login(client, coordinator_a.username, PASSWORD).status_code == 302


@pytest.mark.requirement(
    "CFR11-10D-ACCESS", "CFR11-10H-SOURCE", "CFR11-300D-SAFEGUARDS", "ICH-E6R3-4.3.3-SECURITY"
)
def test_mfa_is_required_before_any_page(coordinator_a, study):
    assert study.mfa_required
    client = Client()
    assert _login(client, coordinator_a.username, PASSWORD)["Location"] == "/"
    response = client.get("/participants/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/setup/")
    api = client.get("/api/v1/participants/")
    assert api.status_code == 403


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS", "ICH-E6R3-4.3.3-SECURITY")
def test_mfa_enrolment_then_verification_on_next_sign_in(coordinator_a):
    client = Client()
    _login(client, coordinator_a.username, PASSWORD)
    page = client.get("/accounts/mfa/setup/")
    assert page.status_code == 200 and b'id="totp-secret"' in page.content
    device = TOTPDevice.objects.get(user=coordinator_a, confirmed=False)

    wrong = "000000" if _current_code(device) != "000000" else "111111"
    refused = client.post("/accounts/mfa/setup/", {"token": wrong})
    assert refused.status_code == 400
    assert b"This code is not correct" in refused.content
    throttled = client.post("/accounts/mfa/setup/", {"token": _current_code(device)})
    assert b"Too many wrong codes" in throttled.content
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=10)
    )
    accepted = client.post("/accounts/mfa/setup/", {"token": _current_code(device)})
    assert accepted.status_code == 302
    assert client.get("/participants/").status_code == 200

    client.post("/accounts/logout/")
    second = Client()
    _login(second, coordinator_a.username, PASSWORD)
    assert second.get("/").headers["Location"].startswith("/accounts/mfa/verify/")
    device.refresh_from_db()
    device.last_t = -1
    device.save()
    assert second.post("/accounts/mfa/verify/", {"token": _current_code(device)}).status_code == 302
    assert second.get("/").status_code == 200


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS")
def test_study_setting_may_relax_mfa_outside_production(coordinator_a, study):
    study.mfa_required = False
    study.save()
    client = Client()
    _login(client, coordinator_a.username, PASSWORD)
    assert client.get("/participants/").status_code == 200


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS", "ICH-E6R3-4.3.3-SECURITY")
def test_production_ignores_a_relaxed_mfa_setting(coordinator_a, study, settings):
    settings.ECRF_ALLOW_MFA_RELAXATION = False
    study.mfa_required = False
    study.save()
    client = Client()
    _login(client, coordinator_a.username, PASSWORD)
    assert client.get("/participants/").status_code == 302


@pytest.mark.requirement("CFR11-10D-ACCESS", "ICH-E6R3-4.3.3-SECURITY")
def test_idle_session_expires_after_thirty_minutes(coordinator_a, client_for, settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    client = client_for(coordinator_a)
    client.cookies[SIGNED_IN_COOKIE] = "1"
    assert client.get("/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    response = client.get("/", follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert b"Your session ended after a period without activity" in response.content


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_a_request_renews_the_idle_timeout_once_a_minute_at_most(
    coordinator_a, client_for, settings
):
    settings.SESSION_RENEWAL_SECONDS = 60  # as installed (the tests renew at every request)
    client = client_for(coordinator_a)
    session = Session.objects.get(session_key=client.session.session_key)
    soon = timezone.now() + dt.timedelta(minutes=5)
    with time_machine.travel(timezone.now(), tick=True) as clock:
        client.get("/")  # the first signed-in request renews
        Session.objects.filter(pk=session.pk).update(expire_date=soon)
        clock.shift(dt.timedelta(seconds=30))
        # Within the minute, a request writes no session: its expiry stays as it was.
        assert client.get("/").status_code == 200
        assert Session.objects.get(pk=session.pk).expire_date == soon
        clock.shift(dt.timedelta(seconds=31))
        client.get("/")
        renewed = Session.objects.get(pk=session.pk).expire_date
    assert renewed > timezone.now() + dt.timedelta(minutes=29)


@pytest.mark.requirement("CFR11-300-PASSWORDS", "ICH-E6R3-4.3.3-SECURITY")
def test_password_change_applies_the_password_validators(coordinator_a, client_for):
    client = client_for(coordinator_a)
    weak = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert weak.status_code == 200
    assert b"too short" in weak.content or b"too common" in weak.content
    strong = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "Quiet-Lantern-Orbit-77",
            "new_password2": "Quiet-Lantern-Orbit-77",
        },
    )
    assert strong.status_code == 302
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password("Quiet-Lantern-Orbit-77")


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_logout_needs_post_and_ends_the_session(coordinator_a, client_for):
    client = client_for(coordinator_a)
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.requirement("PROT-LANGUAGE")
def test_user_language_is_remembered(coordinator_a, client_for):
    client = client_for(coordinator_a)
    client.post("/accounts/language/", {"language": "ja", "next": "/"})
    coordinator_a.refresh_from_db()
    assert coordinator_a.language == "ja"
    assert client.get("/").headers["Content-Language"] == "ja"
    client.post("/accounts/language/", {"language": "en", "next": "/"})
    assert client.get("/").headers["Content-Language"] == "en"


@pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE")
def test_language_switch_refuses_an_offsite_redirect(coordinator_a, client_for):
    response = client_for(coordinator_a).post(
        "/accounts/language/", {"language": "en", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_an_api_request_signed_by_its_key_gets_no_session(coordinator_a, api_for):
    before = Session.objects.count()
    response = api_for(coordinator_a).get("/api/v1/participants/")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert Session.objects.count() == before
