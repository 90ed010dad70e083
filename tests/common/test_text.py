"""The study's rule for free text, and the commands that take text held to it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from ecrf.accounts.models import User
from ecrf.common.text import clean_free_text
from ecrf.studies.models import Site

pytestmark = pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE")


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "a\x01b", "a\x1fb", "a\x7fb", "a\x80b", "a\x85b", "a\x9fb", "a\ud800b", "\uffff"],
)
@pytest.mark.parametrize("multiline", [False, True])
def test_control_characters_are_refused_naming_the_code_point(value, multiline):
    with pytest.raises(ValidationError) as refused:
        clean_free_text(value, multiline=multiline)
    bad = next(c for c in value if c not in "ab")
    assert f"U+{ord(bad):04X}" in refused.value.messages[0]
    assert refused.value.code == "control_character"


def test_tabs_and_line_breaks_are_kept_only_in_multiline_text():
    assert clean_free_text("one\r\ntwo\rthree\tfour", multiline=True) == "one\ntwo\nthree\tfour"
    for value in ("one\ntwo", "one\ttwo", "one\r\ntwo"):
        with pytest.raises(ValidationError):
            clean_free_text(value)


def test_text_is_stored_composed():
    assert clean_free_text("Cafe\u0301 \u30cf\u309a") == "Caf\u00e9 \u30d1"
    assert clean_free_text("日本語\u3000テキスト") == "日本語\u3000テキスト"


@pytest.mark.django_db
def test_setup_trial_refuses_a_site_name_with_a_control_character(study):
    with pytest.raises(CommandError, match="U\\+0001"):
        call_command("setup_trial", "--site", "S09=Bad\x01Name")
    assert not Site.objects.filter(code="S09").exists()


@pytest.mark.django_db
def test_create_study_user_refuses_a_printed_name_with_a_control_character(study):
    with pytest.raises(CommandError, match="--printed-name.*U\\+000B"):
        call_command(
            "create_study_user",
            "newcomer",
            "--role",
            "statistician",
            "--password",
            "a long and unusual passphrase 7",
            "--printed-name",
            "Sato\x0bHanako",
        )
    assert not User.objects.filter(username="newcomer").exists()
