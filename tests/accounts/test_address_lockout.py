"""Sign-in is locked per network address as well as per account: password spraying (one
guess at each of many accounts from one address) is stopped, with a clear message."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from ecrf.accounts.views import lockout_response

from ..factories import PASSWORD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("CFR11-300D-ADDRESS-LOCKOUT", "CFR11-300D-SAFEGUARDS"),
]


def _login(client: Client, username: str, password: str, address: str = "198.51.100.20"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.fixture
def address_limit(settings) -> int:
    settings.ECRF_ADDRESS_FAILURE_LIMIT = 8
    return 8


def test_the_address_limit_is_higher_than_the_account_limit_by_default(settings):
    assert settings.ECRF_ADDRESS_FAILURE_LIMIT > settings.ECRF_ACCOUNT_FAILURE_LIMIT


def test_wrong_passwords_for_many_usernames_from_one_address_lock_that_address(
    address_limit, coordinator_a
):
    client = Client()
    answers = [
        _login(client, f"guessed_{n}", "Summer2026!").status_code for n in range(address_limit)
    ]
    assert answers[:-1] == [200] * (address_limit - 1)
    assert answers[-1] == 403
    # Now even a right password from that address is refused, with the address's message.
    refused = _login(client, coordinator_a.username, PASSWORD)
    assert refused.status_code == 403
    page = refused.content.decode()
    assert 'id="locked"' in page
    assert "network address" in page
    # Another address signs in as usual.
    assert _login(Client(), coordinator_a.username, PASSWORD, "203.0.113.9").status_code == 302


def test_fewer_wrong_passwords_than_the_address_limit_lock_nothing(address_limit, coordinator_a):
    client = Client()
    for n in range(address_limit - 1):
        _login(client, f"guessed_{n}", "Summer2026!")
    assert _login(client, coordinator_a.username, PASSWORD).status_code == 302


def test_ones_own_sign_in_does_not_clear_the_count_of_the_address(
    address_limit, coordinator_a, coordinator_b
):
    client = Client()
    for n in range(address_limit - 2):
        _login(client, f"guessed_{n}", "Summer2026!")
    assert _login(Client(), coordinator_b.username, PASSWORD).status_code == 302
    _login(client, "guessed_again", "Summer2026!")
    assert _login(client, "guessed_last", "Summer2026!").status_code == 403
    assert _login(Client(), coordinator_a.username, PASSWORD).status_code == 403


def test_an_account_lockout_still_says_the_account_is_locked(coordinator_a):
    client = Client()
    for _attempt in range(5):
        _login(client, coordinator_a.username, "wrong-password")
    page = _login(client, coordinator_a.username, PASSWORD).content.decode()
    assert "Account locked" in page and "network address" not in page


def test_under_the_api_the_address_lockout_answers_json(address_limit):
    request = RequestFactory().post("/api/v1/participants/1/signature/")
    response = lockout_response(request, {"username": "nobody_locked"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert b"network address" in response.content
