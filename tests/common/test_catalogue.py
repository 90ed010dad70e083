"""The form catalogue is the one description of the case report forms."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pghistory.models
import pytest
from django.apps import apps
from django.utils import translation

from ecrf.common import catalogue
from ecrf.common.guard import GUARDED_RECORDS
from ecrf.exports.formats.dictionary import SAS_KEY_NAMES
from ecrf.participants.eligibility import EligibilityAnswers

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    path
    for folder in ("ecrf", "randomization")
    for path in (ROOT / folder).rglob("*.py")
    if "migrations" not in path.parts
]

#: Records about participant data that are not her data: a query, a verification mark,
#: a signature or a lock neither voids a signature nor is frozen by a lock, and a
#: reminder or an allocation request is a message or a key, not a value of the casebook.
NOT_PARTICIPANT_DATA = {
    "quality.Signature",
    "quality.Verification",
    "quality.Lock",
    "queries.Query",
    "randomization.AllocationRequest",
    # the audit trail's review index: a copy of the trail, not the participant's data
    "review.AuditEntry",
    "schedule.Reminder",
    # counts and facts the database keeps from her data, not her data
    *(table.model for table in catalogue.KEPT_COUNTS),
}


def _points_to_participant(model: type) -> bool:
    return any(
        getattr(f, "related_model", None) is not None
        and f.related_model._meta.label == "participants.Participant"
        and f.concrete
        for f in model._meta.get_fields()
    )


def test_every_model_holding_participant_data_is_in_the_catalogue():
    holding = {
        model._meta.label
        for model in apps.get_models()
        if not issubclass(model, pghistory.models.Event)
        and not model._meta.proxy
        and model._meta.label not in NOT_PARTICIPANT_DATA
        and (_points_to_participant(model) or model._meta.label == "participants.Participant")
    }
    assert holding == {form.model for form in catalogue.participant_data()}


def test_the_guard_covers_exactly_the_catalogue_participant_data():
    guarded = {model._meta.label: code for model, code in GUARDED_RECORDS.items()}
    assert guarded == {form.model: form.code for form in catalogue.participant_data()}


def test_every_column_of_a_form_is_a_field_or_named_bookkeeping():
    for form in catalogue.case_report_forms():
        columns = [f.name for f in form.model_class._meta.concrete_fields]
        declared = [f.name for f in form.fields]
        assert sorted([*declared, *form.bookkeeping]) == sorted(columns), form.code
        assert len(set(declared)) == len(declared), form.code


def test_codes_sas_names_and_visits_are_unique_and_valid():
    codes = [form.code for form in catalogue.FORMS]
    assert len(set(codes)) == len(codes)
    assert len(set(catalogue.concealed_models())) == 2
    datasets = [form.sas_dataset for form in catalogue.case_report_forms()]
    assert len(set(datasets)) == len(datasets)
    visits = {visit.code for visit in catalogue.VISITS}
    for form in catalogue.case_report_forms():
        assert form.visit in visits, form.code
        assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", form.sas_dataset), form.code
        names = [*SAS_KEY_NAMES.values(), *(field.sas for field in form.fields)]
        assert len(set(names)) == len(names), form.code
        for field in form.fields:
            assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", field.sas), (form.code, field.name)


def test_every_form_and_field_has_a_label_in_both_languages():
    for form in catalogue.case_report_forms():
        for language in ("en", "ja"):
            with translation.override(language):
                assert str(form.label), (form.code, language)
                for field in form.fields:
                    assert str(form.model_field(field.name).verbose_name), field.name
    with translation.override("ja"):
        assert str(catalogue.form("clinical_pregnancy").label) != "clinical pregnancy"
        assert all(str(v.label) != "Screening" for v in catalogue.VISITS[:1])


def test_a_single_record_form_is_one_row_per_participant_and_a_multi_record_form_many():
    for form in catalogue.case_report_forms():
        if not form.participant_path:
            continue
        relation = form.model_class._meta.get_field(form.participant_path)
        assert relation.one_to_one == (not form.multi_record), form.code


def test_the_eligibility_answers_are_the_required_answers_of_the_eligibility_form():
    assert catalogue.form("eligibility").required_answers == tuple(
        f.name for f in dataclasses.fields(EligibilityAnswers)
    )


def test_only_the_randomization_slot_field_reveals_the_arm():
    concealed = [
        (form.code, field.name)
        for form in catalogue.FORMS
        for field in form.fields
        if field.concealed
    ]
    assert concealed == [("randomization", "arm")]


def _literal_strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Dict):
        elements = [key for key in node.keys if key is not None]
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        elements = node.elts
    else:
        return []
    return [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_keeps_its_own_list_of_forms_or_fields(path: Path):
    """A module-level constant naming three or more forms, or three or more fields of
    one form, restates the catalogue: read the catalogue instead. (A web form's or a
    serializer's own inputs, and the values a service saves, are not such lists.)"""
    if path.name == "catalogue.py":
        return
    form_codes = {form.code for form in catalogue.case_report_forms()}
    field_sets = {
        form.code: {f.name for f in form.fields} for form in catalogue.case_report_forms()
    }
    found = []
    constants = [
        statement.value
        for statement in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None
    ]
    for node in (inner for constant in constants for inner in ast.walk(constant)):
        strings = set(_literal_strings(node))
        if len(strings & form_codes) >= 3:
            found.append((node.lineno, sorted(strings & form_codes)))  # type: ignore[attr-defined]
        for code, names in field_sets.items():
            # Generic words ("date", "reason", "visit") are many forms' fields.
            specific = (strings & names) - {"date", "reason", "visit", "outcome", "result"}
            if len(specific) >= 3:
                found.append((node.lineno, code, sorted(specific)))  # type: ignore[attr-defined]
    assert found == []


def test_every_kept_count_is_a_model_the_audit_trail_leaves_alone():
    """The kept counts are copies of audited rows: auditing them again would only add
    the triggers' own writes to the trail."""
    tracked = {
        model.pgh_tracked_model._meta.label
        for model in apps.get_models()
        if issubclass(model, pghistory.models.Event) and hasattr(model, "pgh_tracked_model")
    }
    for table in catalogue.KEPT_COUNTS:
        assert apps.get_model(table.model) is not None
        assert table.model not in tracked, table.model
