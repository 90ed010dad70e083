"""The system's messages: stored as a code and parameters, rendered in the active language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ecrf.common import messages


def test_a_message_renders_in_the_active_language_from_its_stored_parameters():
    params = messages.freeze({"number": "S01-R003"})
    assert params == {"number": "S01-R003"}
    with translation.override("en"):
        assert messages.render("randomized", params) == "Randomized: S01-R003"
    with translation.override("ja"):
        assert messages.render("randomized", params) == "無作為割付（割付番号 S01-R003）"


def test_english_is_english_whatever_the_active_language():
    with translation.override("ja"):
        assert messages.english("consent_recorded") == "Consent recorded"


def test_a_translatable_parameter_is_kept_in_each_language_and_read_in_the_readers():
    params = messages.freeze({"items": _("Drug return recorded")})
    assert params == {
        "items": {"by_language": {"en": "Drug return recorded", "ja": "返却薬の記録"}}
    }
    with translation.override("ja"):
        assert messages.render("completed", params) == "完了: 返却薬の記録。"
    with translation.override("en"):
        assert messages.render("completed", params) == "Completed: Drug return recorded."


def test_a_parameter_computed_in_the_language_is_computed_in_each():
    params = messages.freeze({"items": lambda: str(_("and"))})
    assert set(params["items"]["by_language"]) == {"en", "ja"}
    assert params["items"]["by_language"]["en"] == "and"


def test_dates_and_numbers_are_stored_as_they_read():
    assert messages.freeze({"day": dt.date(2026, 3, 18), "hcg": Decimal("4.50")}) == {
        "day": "2026-03-18",
        "hcg": "4.50",
    }


def test_an_unknown_code_or_a_missing_parameter_shows_the_text_as_stored():
    assert messages.render("no_such_message", {}, fallback="as written") == "as written"
    assert messages.render("randomized", {}, fallback="as written") == "as written"
