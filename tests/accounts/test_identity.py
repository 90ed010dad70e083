"""One person, one identity: unique usernames, API keys that can be revoked, deactivation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from ecrf.accounts.models import User
from ecrf.accounts.services import user_create

from ..factories import PASSWORD, api_key_for, deactivation_form

pytestmark = pytest.mark.django_db


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.requirement("CFR11-300A-UNIQUE-ID", "CFR11-100A-UNIQUE")
def test_a_second_account_with_an_existing_username_is_refused(coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        user_create(
            username=coordinator_a.username,
            role="investigator",
            password="Another-Long-Passphrase-9",
            site_codes=["S01"],
            performed_by=None,
        )
    assert "already exists" in excinfo.value.message_dict["username"][0]
    assert User.objects.filter(username=coordinator_a.username).get().role == "coordinator"


@pytest.mark.requirement("CFR11-300C-LOSS", "API-CMD-API-TOKEN")
def test_a_new_key_makes_the_earlier_one_stop_working(coordinator_a):
    first = api_key_for(coordinator_a)
    assert _api(first).get("/api/v1/participants/").status_code == 200
    second = api_key_for(coordinator_a)
    assert second != first
    assert _api(first).get("/api/v1/participants/").status_code == 401
    assert _api(second).get("/api/v1/participants/").status_code == 200


@pytest.mark.requirement("API-CMD-API-TOKEN", "CFR11-10H-SOURCE")
def test_the_web_page_issues_a_key_shown_once(client_for, coordinator_a):
    client = client_for(coordinator_a)
    page = client.get("/accounts/api-token/").content.decode()
    assert 'id="api-key"' not in page
    issued = client.post("/accounts/api-token/").content.decode()
    key = issued.split('id="api-key">')[1].split("<")[0].strip()
    assert _api(key).get("/api/v1/participants/").status_code == 200
    assert 'id="api-key"' not in client.get("/accounts/api-token/").content.decode()


@pytest.mark.requirement("CFR11-300C-LOSS", "CFR11-10D-ACCESS", "ICH-E6R3-4.3.8-USER-MANAGEMENT")
def test_a_deactivated_account_can_neither_sign_in_nor_use_its_key(
    make_user, client_for, coordinator_b
):
    key = api_key_for(coordinator_b)
    response = client_for(make_user("admin")).post(
        f"/admin/accounts/user/{coordinator_b.pk}/change/",
        deactivation_form(coordinator_b, "Lost her phone and laptop"),
    )
    assert response.status_code == 302
    assert _api(key).get("/api/v1/participants/").status_code == 401
    signed_in = Client().post(
        "/accounts/login/", {"username": coordinator_b.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 200
    assert b"The username or password is not correct" in signed_in.content
