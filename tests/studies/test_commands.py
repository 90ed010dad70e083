"""The set-up commands of the API contract."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pghistory.models import Events
from rest_framework.test import APIClient

from ecrf.accounts.models import User
from ecrf.studies.models import Site, Study

from ..conftest import run_manage
from ..factories import enrol_authenticator

pytestmark = pytest.mark.django_db


def _event_count() -> int:
    return sum(
        Events.objects.across(model).count()
        for model in ["studies.StudyEvent", "studies.SiteEvent"]
    )


@pytest.mark.requirement("API-CMD-SETUP-TRIAL")
def test_setup_trial_creates_the_study_and_is_idempotent():
    call_command("setup_trial", "--site", "S01=Site One", "--site", "S02=Site Two")
    assert Study.objects.get().code == "TAC-RI"
    assert list(Site.objects.values_list("code", flat=True)) == ["S01", "S02"]
    events = _event_count()
    call_command("setup_trial", "--site", "S01=Renamed", "--site", "S02=Site Two")
    assert _event_count() == events
    assert Site.objects.get(code="S01").name_en == "Site One"


@pytest.mark.requirement("API-CMD-SETUP-TRIAL")
def test_setup_trial_without_sites_sets_up_the_five_hospitals():
    call_command("setup_trial")
    assert Site.objects.count() == 5


@pytest.mark.requirement("API-CMD-SETUP-TRIAL")
def test_setup_trial_refuses_a_malformed_site():
    with pytest.raises(CommandError, match="CODE=NAME"):
        call_command("setup_trial", "--site", "S01")
    with pytest.raises(CommandError, match="code"):
        call_command("setup_trial", "--site", "site1=Somewhere")
    assert Site.objects.count() == 0


@pytest.mark.requirement("API-CMD-CREATE-USER", "ICH-E6R3-4.3.8-USER-MANAGEMENT")
def test_create_study_user_gives_role_and_sites(study):
    call_command(
        "create_study_user",
        "kato",
        "--role",
        "monitor",
        "--site",
        "S01",
        "--site",
        "S02",
        "--password",
        "Maple-Sunrise-Kettle-3",
    )
    user = User.objects.get(username="kato")
    assert user.role == "monitor"
    assert sorted(user.memberships.values_list("site__code", flat=True)) == ["S01", "S02"]
    assert user.check_password("Maple-Sunrise-Kettle-3")


@pytest.mark.requirement("API-CMD-CREATE-USER", "CFR11-300-PASSWORDS")
def test_create_study_user_refuses_bad_input_with_the_field_named(study):
    with pytest.raises(CommandError, match="password"):
        call_command(
            "create_study_user",
            "weak",
            "--role",
            "coordinator",
            "--site",
            "S01",
            "--password",
            "123",
        )
    with pytest.raises(CommandError, match="site"):
        call_command(
            "create_study_user",
            "nosite",
            "--role",
            "coordinator",
            "--password",
            "Maple-Sunrise-Kettle-3",
        )
    with pytest.raises(CommandError, match="S09"):
        call_command(
            "create_study_user",
            "badsite",
            "--role",
            "monitor",
            "--site",
            "S09",
            "--password",
            "Maple-Sunrise-Kettle-3",
        )
    assert not User.objects.exists()


@pytest.mark.requirement("API-CMD-API-TOKEN", "CFR11-10H-SOURCE")
@pytest.mark.django_db(transaction=True)
def test_api_token_prints_a_working_key_as_the_last_line(study):
    call_command(
        "create_study_user",
        "sato",
        "--role",
        "coordinator",
        "--site",
        "S01",
        "--password",
        "Maple-Sunrise-Kettle-3",
    )
    enrol_authenticator(User.objects.get(username="sato"))
    result = run_manage("api_token", "sato")
    key = result.stdout.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/participants/").status_code == 200


@pytest.mark.requirement("API-CMD-API-TOKEN")
def test_api_token_refuses_an_unknown_user(study):
    with pytest.raises(CommandError, match="nobody"):
        call_command("api_token", "nobody")


def test_seed_demo_creates_demo_users_once(settings):
    settings.ECRF_ALLOW_DEMO_USERS = True
    call_command("seed_demo")
    users = User.objects.count()
    call_command("seed_demo")
    assert User.objects.count() == users == 7
    assert not Study.objects.get().mfa_required
