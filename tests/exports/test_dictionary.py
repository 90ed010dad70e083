"""The data dictionary: every field of every form, labelled in both languages."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.apps import apps
from django.db import models

from ecrf.common import catalogue
from ecrf.common.guard import GUARDED_RECORDS
from ecrf.endpoints.models import EditCheckSetting
from ecrf.exports.formats.base import ExportScope
from ecrf.exports.formats.dictionary import (
    DATA_TYPES,
    DICTIONARY_COLUMNS,
    SAS_KEY_NAMES,
    forms_in_scope,
    study_forms,
    value_to_text,
    write_dictionary_csv,
)
from ecrf.safety.models import Outcome

pytestmark = pytest.mark.django_db

#: Guarded tables that are not forms of clinical data: the status history is the
#: participant form's status over time, unblinding is an access event, findings are
#: the edit checks' own output.
NOT_FORMS = {"participants.StatusChange", "participants.Unblinding", "endpoints.EditCheckFinding"}


def expected_fields(spec) -> set[str]:
    """The fields a form's model holds for the participant, bookkeeping left out."""
    model = apps.get_model(spec.model)
    names = set()
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in spec.bookkeeping:
            continue
        if (
            isinstance(field, models.ForeignKey)
            and field.related_model._meta.label != "studies.Arm"
        ):
            continue
        names.add(field.name)
    return names


def dictionary_csv(scope: ExportScope) -> list[dict[str, str]]:
    out = io.BytesIO()
    calls = []
    write_dictionary_csv(scope, out, progress=lambda d, t: calls.append((d, t)), chain_head="x")
    assert calls[-1][0] == calls[-1][1]
    return list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8"))))


def test_every_guarded_table_of_participant_data_is_a_form(study):
    guarded = {model._meta.label for model in GUARDED_RECORDS}
    forms = {form.model for form in study_forms(study_id=study.pk)}
    assert guarded - NOT_FORMS == forms


def test_dictionary_lists_every_field_of_every_form_in_both_languages(study, site_a):
    rows = dictionary_csv(ExportScope(study_id=study.pk, site_ids=(site_a.pk,)))
    assert list(rows[0]) == [*DICTIONARY_COLUMNS]
    listed: dict[str, set[str]] = {}
    for row in rows:
        listed.setdefault(row["form"], set()).add(row["field"])
        assert row["label_en"] and row["label_ja"], row
        assert row["type"] in DATA_TYPES
    assert listed == {spec.code: expected_fields(spec) for spec in catalogue.case_report_forms()}
    japanese = [r for r in rows if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", r["label_ja"])]
    assert len(japanese) > len(rows) * 0.9
    hcg = next(r for r in rows if r["field"] == "serum_hcg_miu_ml")
    assert hcg["label_en"] == "Serum hCG (mIU/mL)"
    assert hcg["label_ja"] == "血中hCG（mIU/mL）"
    assert hcg["unit"] == "mIU/mL"
    assert hcg["type"] == "float"
    assert "hcg_out_of_range" in hcg["edit_checks"]
    assert "hcg_positive_below_cutoff" in hcg["edit_checks"]


def test_types_lengths_and_allowed_values_come_from_the_models(study):
    forms = {form.name: form for form in study_forms(study_id=study.pk)}
    outcome = forms["adverse_event"].field("outcome")
    assert [code for code, _label in outcome.allowed_values] == list(Outcome.values)
    assert [code for code, _label in outcome.allowed_values_ja] == list(Outcome.values)
    assert dict(outcome.allowed_values)["recovered"] == "Recovered"
    assert outcome.length == 30 and outcome.data_type == "text"
    ratio = forms["eligibility"].field("th1_th2_ratio")
    assert (ratio.data_type, ratio.length, ratio.fraction_digits) == ("float", 6, 2)
    assert forms["dose"].field("date").data_type == "date"
    assert forms["dose"].field("recorded_at").data_type == "datetime"
    assert forms["dose"].field("taken").allowed_values == (("1", "Yes"), ("0", "No"))
    criteria = forms["adverse_event"].field("seriousness_criteria")
    assert criteria.multiple and "hospitalisation" in dict(criteria.allowed_values)
    failed = forms["eligibility"].field("failed_criteria")
    assert {"age", "th1_th2_ratio"} <= set(dict(failed.allowed_values))
    arm = forms["randomization"].field("arm")
    assert arm.arm and dict(arm.allowed_values) == {
        "low": "Low dose, 2 mg/day",
        "high": "High dose, 4 mg/day",
    }
    assert forms["safety_lab"].field("value").unit.startswith("as given in the field unit")


def test_edit_checks_follow_the_study_settings(study):
    forms = {form.name: form for form in study_forms(study_id=study.pk)}
    assert any(
        "threshold 1000000" in check
        for check in forms["biochemical_pregnancy"].field("serum_hcg_miu_ml").edit_checks
    )
    EditCheckSetting.objects.filter(study=study, code="hcg_positive_below_cutoff").update(
        enabled=False
    )
    EditCheckSetting.objects.filter(study=study, code="hcg_out_of_range").update(threshold=5000)
    changed = {form.name: form for form in study_forms(study_id=study.pk)}
    checks = " ".join(changed["biochemical_pregnancy"].field("serum_hcg_miu_ml").edit_checks)
    assert "hcg_positive_below_cutoff" not in checks
    assert "threshold 5000" in checks
    eligibility = forms["eligibility"]
    assert "at least 3" in " ".join(eligibility.field("prior_good_quality_transfers").edit_checks)
    assert "answered no" in " ".join(eligibility.field("pregnant").edit_checks)
    assert "answered yes" in " ".join(eligibility.field("frozen_embryos_available").edit_checks)
    assert "From 1 to 5." in forms["embryo_transfer"].field("embryos_transferred").edit_checks


def test_sas_names_fit_transport_v5_and_are_unique(study):
    datasets = set()
    for form in study_forms(study_id=study.pk):
        assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", form.sas_name)
        datasets.add(form.sas_name)
        names = [*SAS_KEY_NAMES.values(), *(field.sas_name for field in form.fields)]
        assert len(names) == len(set(names)), form.name
        for name in names:
            assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", name), name
    assert len(datasets) == len(list(catalogue.case_report_forms()))


def test_oids_are_unique(study):
    forms = study_forms(study_id=study.pk)
    oids = [f.oid for f in forms] + [f.item_group_oid for f in forms]
    oids += [field.oid for form in forms for field in form.fields]
    assert len(oids) == len(set(oids))
    assert forms[0].oid == "F.PARTICIPANT"
    assert forms[0].fields[0].oid == "I.PARTICIPANT.SCREENING_DATE"


def test_the_arm_is_left_out_when_not_visible(study, site_a):
    hidden = study_forms(arm_visible=False, study_id=study.pk)
    assert not [f for form in hidden for f in form.fields if f.arm]
    rows = dictionary_csv(ExportScope(study_id=study.pk, site_ids=(site_a.pk,), arm_visible=False))
    assert not [r for r in rows if r["form"] == "randomization" and r["field"] == "arm"]


def test_concealed_forms_are_left_out_of_the_dictionary(study, site_a):
    scope = ExportScope(
        study_id=study.pk, site_ids=(site_a.pk,), concealed_models=("randomization.Slot",)
    )
    assert "randomization" not in {form.name for form in forms_in_scope(scope)}
    assert not [r for r in dictionary_csv(scope) if r["form"] == "randomization"]


def test_values_are_written_one_way_everywhere(study):
    import datetime as dt
    from decimal import Decimal

    forms = {form.name: form for form in study_forms(study_id=study.pk)}
    dose = forms["dose"]
    assert value_to_text(dose.field("taken"), True) == "1"
    assert value_to_text(dose.field("taken"), None) == ""
    assert value_to_text(dose.field("dose_mg"), Decimal("4.00")) == "4.00"
    assert value_to_text(dose.field("dose_mg"), Decimal("1E+3")) == "1000"
    assert value_to_text(dose.field("time_taken"), dt.time(8, 30)) == "08:30:00"
    moment = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert value_to_text(dose.field("recorded_at"), moment) == "2026-03-01T21:00:00+09:00"
    criteria = forms["adverse_event"].field("seriousness_criteria")
    assert value_to_text(criteria, ["death", "disability"]) == "death;disability"
