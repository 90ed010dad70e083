"""The tables of the study's design (arms and doses, visits and windows, edit checks,
normal ranges) do not change while the study database is locked, on any path; only
their names shown to users may."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, models, transaction
from django.test import Client

from ecrf.accounts.models import User
from ecrf.common import catalogue
from ecrf.common.guard import is_lock_violation
from ecrf.quality.models import Lock
from ecrf.quality.services import lock_release, lock_set
from ecrf.studies.models import Arm, Study

pytestmark = pytest.mark.django_db

#: For each design table, an assignment that changes what the table decides, and one
#: that changes only what users read (None: the table has no operational column).
CHANGES: dict[str, tuple[str, str | None]] = {
    "studies.Arm": ("daily_dose_mg = daily_dose_mg + 1", "name_en = name_en || ' (new)'"),
    "studies.VisitDefinition": (
        "window_end_offset = window_end_offset + 1",
        "name_ja = name_ja || '（新）'",
    ),
    "endpoints.EditCheckSetting": ("enabled = NOT enabled", None),
    "labs.NormalRange": ("high = high + 1", None),
}

#: Tables that name the study or a site and are neither participant data nor design,
#: with what they are.
NOT_DESIGN = {
    "studies.Site": "the sites taking part; they join during the study",
    "accounts.SiteMembership": "who works at which site",
    "quality.Lock": "the locks themselves",
    "exports.ExportJob": "exports asked for",
    "review.AuditEntry": "the audit trail's readable index",
    "review.AuditReview": "monitors' reviews of the audit trail",
    "randomization.RandomizationList": "the statistician's lists, checked when used",
    **{table.model: table.holds for table in catalogue.KEPT_COUNTS},
}


def _row_of(label: str, study: Study) -> models.Model:
    model = apps.get_model(label)
    path = catalogue.study_design_table(label).study_path
    lookup = "study" if path == "study" else "site__study"
    row = model.objects.filter(**{lookup: study}).order_by("pk").first()
    assert row is not None, f"the trial has no {label}"
    return row


def _execute(sql: str, row: models.Model) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.format(table=row._meta.db_table), [row.pk])


def _refused(sql: str, row: models.Model) -> bool:
    try:
        _execute(sql, row)
    except DatabaseError as exc:
        assert is_lock_violation(exc), exc
        return True
    return False


def _snapshot(row: models.Model) -> dict[str, object]:
    return type(row).objects.filter(pk=row.pk).values().get()  # type: ignore[attr-defined]


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_every_table_naming_the_study_or_a_site_is_design_participant_data_or_named() -> None:
    design = {table.model for table in catalogue.STUDY_DESIGN_TABLES}
    assert set(CHANGES) == design
    unclassified = []
    for model in apps.get_models():
        if model.__name__.endswith("Event") or model._meta.app_label == "pghistory":
            continue
        form = catalogue.form_of_model(model._meta.label)
        if form is not None and form.holds_participant_data:
            continue
        names_study = any(
            field.is_relation
            and field.related_model is not None
            and field.related_model._meta.label in {"studies.Study", "studies.Site"}
            for field in model._meta.concrete_fields
        )
        label = model._meta.label
        if names_study and label not in design and label not in NOT_DESIGN:
            unclassified.append(label)
    assert unclassified == []
    for table in catalogue.STUDY_DESIGN_TABLES:
        model = apps.get_model(table.model)
        columns = {field.attname for field in model._meta.concrete_fields}
        assert set(table.operational) <= columns


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
@pytest.mark.parametrize("label", sorted(CHANGES))
def test_a_locked_study_refuses_any_change_to_its_design_tables(
    label: str, study: Study, data_manager: User, database_lock: Lock
) -> None:
    row = _row_of(label, study)
    before = _snapshot(row)
    design_change, operational_change = CHANGES[label]

    assert _refused(f"UPDATE {{table}} SET {design_change} WHERE id = %s", row)
    assert _refused("DELETE FROM {table} WHERE id = %s", row)
    assert _refused("INSERT INTO {table} SELECT * FROM {table} WHERE id = %s", row)
    assert _snapshot(row) == before
    if operational_change is not None:
        assert not _refused(f"UPDATE {{table}} SET {operational_change} WHERE id = %s", row)
        assert _snapshot(row) != before

    lock_release(lock=database_lock, reason="Query found after lock", performed_by=data_manager)
    changed = _snapshot(row)
    assert not _refused(f"UPDATE {{table}} SET {design_change} WHERE id = %s", row)
    assert _snapshot(row) != changed


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_another_study_s_lock_leaves_this_study_s_design_alone(
    study: Study, data_manager: User
) -> None:
    other = Study.objects.create(code="OTHER", title_en="Other", title_ja="他")
    lock_set(study=other, reason="The other study is locked", performed_by=data_manager)
    for label, (design_change, _operational) in CHANGES.items():
        assert not _refused(
            f"UPDATE {{table}} SET {design_change} WHERE id = %s", _row_of(label, study)
        )


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_the_admin_refuses_a_dose_change_of_a_locked_study_with_409(
    study: Study,
    make_user: Callable[..., User],
    database_lock: Lock,
    client_for: Callable[[User], Client],
) -> None:
    arm = Arm.objects.filter(study=study).order_by("pk").first()
    assert arm is not None
    client = client_for(make_user("admin", username="ada_admin"))
    url = f"/admin/studies/arm/{arm.pk}/change/"
    form = {
        "name_en": arm.name_en,
        "name_ja": arm.name_ja,
        "daily_dose_mg": arm.daily_dose_mg + 1,
        "capsule_mg": arm.capsule_mg,
        "intakes_per_day": arm.intakes_per_day,
        "order": arm.order,
        "reason_for_change": "Amendment 7",
    }
    refused = client.post(url, form)
    assert refused.status_code == 409
    assert "locked" in refused.content.decode()
    arm.refresh_from_db()
    assert arm.daily_dose_mg == form["daily_dose_mg"] - 1

    renamed = client.post(
        url, {**form, "daily_dose_mg": arm.daily_dose_mg, "name_en": "Low dose (2 mg)"}
    )
    assert renamed.status_code == 302
    arm.refresh_from_db()
    assert (arm.name_en, arm.daily_dose_mg) == ("Low dose (2 mg)", form["daily_dose_mg"] - 1)
    assert isinstance(arm.daily_dose_mg, Decimal)
