"""Validation rules declared once: what a service refuses is what the dictionary says."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import translation

from ecrf.common import catalogue
from ecrf.common.rules import AtLeast, Described, NotBefore, NotInFuture, Required

TODAY = dt.date(2026, 3, 10)


def test_not_in_future_refuses_tomorrow_and_accepts_today():
    rule = NotInFuture()
    assert rule.error(TODAY, {"today": TODAY}) is None
    assert rule.error(TODAY + dt.timedelta(days=1), {"today": TODAY}) == (
        "This date is in the future."
    )
    assert rule.error(None, {"today": TODAY}) is None


def test_not_before_counts_its_days_and_names_the_anchor():
    rule = NotBefore(anchor="screening_date", anchor_label="screening", days=90)
    screening = dt.date(2026, 3, 1)
    assert rule.error(screening - dt.timedelta(days=90), {"screening_date": screening}) is None
    assert rule.error(screening - dt.timedelta(days=91), {"screening_date": screening}) == (
        "This is more than 90 days before screening."
    )
    assert str(rule.describe()) == "Not more than 90 days before screening."
    strict = NotBefore(anchor="onset_date", anchor_label="the onset date")
    assert strict.error(dt.date(2026, 2, 28), {"onset_date": dt.date(2026, 3, 1)}) == (
        "This is before the onset date (2026-03-01)."
    )


def test_a_form_states_its_own_words_and_reports_the_first_broken_rule():
    consent = catalogue.form("consent")
    errors = consent.errors(
        {"consent_date": dt.date(2026, 2, 1)}, today=TODAY, screening_date=dt.date(2026, 2, 5)
    )
    assert errors == {"consent_date": "Consent cannot be dated before screening (2026-02-05)."}
    with translation.override("ja"):
        errors = consent.errors(
            {"consent_date": TODAY + dt.timedelta(days=1)},
            today=TODAY,
            screening_date=dt.date(2026, 2, 5),
        )
    assert "未来" in errors["consent_date"]


def test_required_and_at_least():
    assert Required().error("  ", {}) == "This answer is required."
    assert Required().error("x", {}) is None
    assert AtLeast(minimum=1).error(0, {}) == "Expected at least 1."
    assert AtLeast().error(Decimal("0.00"), {}) is None
    assert str(AtLeast().describe()) == "Not negative."


def test_the_dictionary_states_every_declared_rule_of_every_field():
    from ecrf.exports.formats.dictionary import study_forms

    resolved = {form.name: form for form in study_forms()}
    for form in catalogue.case_report_forms():
        for field in form.fields:
            checks = resolved[form.code].field(field.name).edit_checks
            for rule in field.rules:
                with translation.override("en"):
                    assert str(rule.describe()) in checks, (form.code, field.name, rule)


def test_the_lab_date_rule_the_dictionary_states_is_the_one_enforced():
    from ecrf.exports.formats.dictionary import study_forms

    lab = next(f for f in study_forms() if f.name == "safety_lab")
    assert "Not more than 90 days before screening." in lab.field("measured_on").edit_checks
    rules = catalogue.form("safety_lab").field("measured_on").rules
    assert any(isinstance(r, NotBefore) and r.days == 90 for r in rules)


def test_a_described_rule_refuses_nothing_and_says_its_text():
    rule = Described(text="Computed.")
    assert rule.error(object(), {}) is None
    assert rule.describe() == "Computed."


def test_days_after_within_names_the_earliest_date_and_why():
    rule = catalogue.EMBRYO_TRANSFER_AFTER_RANDOMIZATION
    anchors = {
        "randomization_date": dt.date(2026, 2, 20),
        "min_days_randomization_to_et": 2,
        "max_days_randomization_to_et": 180,
    }
    with translation.override("en"):
        assert rule.error(dt.date(2026, 2, 21), anchors) == (
            "2026-02-22 is the earliest date, 2 days after randomization (2026-02-20): "
            "dosing starts two days before the transfer and cannot come before randomization."
        )
        assert rule.error(dt.date(2026, 2, 22), anchors) is None
        assert rule.error(dt.date(2026, 8, 19), anchors) is None
        assert "2026-08-19 is the latest date" in str(rule.error(dt.date(2026, 8, 20), anchors))
        assert rule.bounds(anchors) == (dt.date(2026, 2, 22), dt.date(2026, 8, 19))
        described = str(rule.describe())
    assert "earliest embryo transfer, in days after randomization" in described
    assert "latest embryo transfer, in days after randomization" in described
    assert rule.error(None, anchors) is None


def test_the_et_date_rule_is_the_one_the_service_uses():
    assert (
        catalogue.EMBRYO_TRANSFER_AFTER_RANDOMIZATION
        in catalogue.form("embryo_transfer").field("et_date").rules
    )
