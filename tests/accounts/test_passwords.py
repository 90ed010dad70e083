"""A password an attacker would guess soon is refused, saying why, in both languages."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import translation

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("pw1pw1pw1pw1", "it repeats a pattern"),
        ("abcdefghij12", "it follows a sequence such as abc or 123"),
        ("asdfghjkl;12", "it follows a keyboard pattern"),
    ],
)
def test_a_guessable_password_is_refused_with_what_makes_it_so(password, reason):
    with pytest.raises(ValidationError) as refused:
        validate_password(password)
    assert any(reason in message for message in refused.value.messages)


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
def test_her_own_name_makes_a_password_guessable(make_user):
    user = make_user("coordinator", ["S01"], username="sakura.tanaka2026")
    with pytest.raises(ValidationError):
        validate_password("Sakura.Tanaka2026", user=user)


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY", "PROT-LANGUAGE")
def test_the_refusal_reads_in_japanese():
    with translation.override("ja"), pytest.raises(ValidationError) as refused:
        validate_password("pw1pw1pw1pw1")
    assert any("推測されやすい" in message for message in refused.value.messages)


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.parametrize("password", [PASSWORD, "Quiet-Lantern-Orbit-77", "Tacrolimus-Demo-2026"])
def test_unrelated_words_pass(password):
    validate_password(password)


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
def test_the_password_change_page_refuses_a_repeated_pattern(coordinator_a, client_for):
    response = client_for(coordinator_a).post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "pw1pw1pw1pw1",
            "new_password2": "pw1pw1pw1pw1",
        },
    )
    assert response.status_code == 200
    assert "it repeats a pattern" in response.content.decode()
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password(PASSWORD)


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY", "CFR11-10A-INVALID")
def test_a_password_longer_than_zxcvbn_reads_is_judged_by_its_first_72_characters():
    validate_password("Quiet-Lantern-Orbit-77-" * 5)
    with pytest.raises(ValidationError):
        validate_password("pw1" * 40)
