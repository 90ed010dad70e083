"""Study settings are study data: one service changes them, with a reason, audited; the
design and analysis settings do not change while the study database is locked, on any
path (the service, the admin, a command, raw SQL)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from pghistory.models import Events

from ecrf.accounts.models import User
from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.common.guard import is_lock_violation
from ecrf.home.services import study_settings_change
from ecrf.quality.models import Lock
from ecrf.quality.services import lock_release, lock_set
from ecrf.studies.models import Study

from ..accounts.test_admin import _study_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user("admin", username="ada_admin")


def _updates(study: Study) -> list[Any]:
    return list(Events.objects.tracks(study).filter(pgh_label="update").order_by("pgh_created_at"))


def _change_url(study: Study) -> str:
    return f"/admin/studies/study/{study.pk}/change/"


# -- the declaration ------------------------------------------------------------------


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_every_field_of_the_study_is_declared_once_as_a_setting() -> None:
    fields = [f.name for f in Study._meta.concrete_fields if not f.primary_key]
    declared = [s.name for s in catalogue.STUDY_SETTINGS]
    assert sorted(declared) == sorted(fields)
    assert len(declared) == len(set(declared))
    frozen = set(catalogue.settings_frozen_by_study_lock())
    assert {"efficacy_null_rate", "efficacy_alpha", "min_days_randomization_to_et"} <= frozen
    assert "mfa_required" not in frozen


# -- the service ----------------------------------------------------------------------


@pytest.mark.requirement("PROT-SETTINGS", "PROT-SETTINGS-LOCKED", "CFR11-10E-CONTENT")
def test_a_changed_setting_is_audited_with_old_and_new_value_and_the_reason(
    study: Study, admin_user: User, randomized: Any
) -> None:
    changed = study_settings_change(
        study=study,
        changes={"efficacy_null_rate": Decimal("0.10"), "dosing_days": study.dosing_days},
        reason="Protocol amendment 3: threshold rate 10%",
        performed_by=admin_user,
    )
    assert changed == {"efficacy_null_rate": (Decimal("0.0500"), Decimal("0.10"))}
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.1000")
    (event,) = _updates(study)
    assert event.pgh_diff == {"efficacy_null_rate": [0.05, 0.1]}
    assert event.pgh_context["reason"] == "Protocol amendment 3: threshold rate 10%"
    assert event.pgh_context["username"] == "ada_admin"


@pytest.mark.requirement("PROT-SETTINGS", "PROT-SETTINGS-LOCKED")
def test_a_setting_does_not_change_without_a_reason(
    study: Study, admin_user: User, randomized: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        study_settings_change(
            study=study,
            changes={"efficacy_null_rate": "0.5"},
            reason="  ",
            performed_by=admin_user,
        )
    assert "reason" in refused.value.message_dict
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0500")
    assert _updates(study) == []


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_an_analysis_setting_of_a_locked_study_is_refused_before_the_reason_is_asked(
    study: Study, admin_user: User, database_lock: Lock
) -> None:
    for reason in ("", "The statistician asked for it"):
        with pytest.raises(StateConflict) as refused:
            study_settings_change(
                study=study,
                changes={"efficacy_null_rate": "0.5"},
                reason=reason,
                performed_by=admin_user,
            )
        assert "The study database is locked" in refused.value.detail
        assert "Dana Manager" in refused.value.detail
        assert "Database lock for the final analysis" in refused.value.detail
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0500")
    assert _updates(study) == []


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_a_design_setting_of_a_locked_study_is_refused(
    study: Study, admin_user: User, database_lock: Lock
) -> None:
    with pytest.raises(StateConflict):
        study_settings_change(
            study=study,
            changes={"min_days_randomization_to_et": 5, "mfa_required": False},
            reason="Amendment 4",
            performed_by=admin_user,
        )
    study.refresh_from_db()
    assert study.min_days_randomization_to_et == 2
    assert study.mfa_required is True


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_an_operational_setting_changes_under_the_lock_with_a_reason(
    study: Study, admin_user: User, database_lock: Lock
) -> None:
    study_settings_change(
        study=study,
        changes={"audit_bulk_records": 80, "audit_working_hours_end": "22:00"},
        reason="Site S05 works late",
        performed_by=admin_user,
    )
    study.refresh_from_db()
    assert study.audit_bulk_records == 80
    assert study.audit_working_hours_end == dt.time(22, 0)
    (event,) = _updates(study)
    assert event.pgh_context["reason"] == "Site S05 works late"


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_an_unlocked_study_takes_the_change_again(
    study: Study, admin_user: User, data_manager: User, database_lock: Lock
) -> None:
    lock_release(lock=database_lock, reason="Query found after lock", performed_by=data_manager)
    study_settings_change(
        study=study,
        changes={"efficacy_alpha": "0.025"},
        reason="Amendment 5",
        performed_by=admin_user,
    )
    study.refresh_from_db()
    assert study.efficacy_alpha == Decimal("0.0250")


@pytest.mark.requirement("PROT-SETTINGS", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["data_manager", "statistician", "coordinator"])
def test_only_administrators_change_settings(
    study: Study, make_user: Callable[..., User], role: str
) -> None:
    with pytest.raises(PermissionDenied):
        study_settings_change(
            study=study,
            changes={"efficacy_null_rate": "0.5"},
            reason="Because",
            performed_by=make_user(role),
        )
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0500")


@pytest.mark.requirement("PROT-SETTINGS")
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"efficacy_null_rate": "a lot"}, "efficacy_null_rate"),
        ({"efficacy_null_rate": "1.5"}, "__all__"),
        ({"dosing_days": "sixteen"}, "dosing_days"),
        ({"id": 7}, "id"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(
    study: Study, admin_user: User, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        study_settings_change(
            study=study, changes=changes, reason="Amendment 6", performed_by=admin_user
        )
    assert field in refused.value.message_dict
    assert _updates(study) == []


# -- the database guard ---------------------------------------------------------------


def _raw_update(study: Study, assignment: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE studies_study SET {assignment} WHERE id = %s", [study.pk])  # noqa: S608


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_the_database_refuses_a_raw_update_of_an_analysis_setting_of_a_locked_study(
    study: Study, database_lock: Lock
) -> None:
    with pytest.raises(DatabaseError) as refused:
        _raw_update(study, "efficacy_null_rate = 0.5")
    assert is_lock_violation(refused.value)
    with pytest.raises(DatabaseError):
        _raw_update(study, "randomization_block_sizes = '{2,4}'")
    _raw_update(study, "audit_bulk_records = 70")
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0500")
    assert study.randomization_block_sizes == [3, 6]
    assert study.audit_bulk_records == 70


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_the_database_guard_leaves_an_unlocked_study_alone(
    study: Study, make_user: Callable[..., User], data_manager: User
) -> None:
    other = Study.objects.create(code="OTHER", title_en="Other", title_ja="他")
    lock_set(study=other, reason="The other study is locked", performed_by=data_manager)
    _raw_update(study, "efficacy_null_rate = 0.06")
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0600")


# -- the admin ------------------------------------------------------------------------


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_the_admin_refuses_an_analysis_setting_of_a_locked_study_with_409(
    study: Study,
    admin_user: User,
    database_lock: Lock,
    client_for: Callable[[User], Client],
) -> None:
    client = client_for(admin_user)
    page = client.get(_change_url(study))
    assert page.status_code == 200
    assert "The study database is locked" in page.content.decode()

    refused = client.post(
        _change_url(study),
        _study_form(study, efficacy_null_rate="0.5", reason_for_change="Statistician's request"),
    )
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "The study database is locked" in html
    assert "threshold (null) rate of the efficacy test" in html
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0500")
    assert _updates(study) == []

    without_reason = client.post(_change_url(study), _study_form(study, efficacy_null_rate="0.5"))
    assert without_reason.status_code == 409


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_the_admin_changes_an_operational_setting_of_a_locked_study(
    study: Study,
    admin_user: User,
    database_lock: Lock,
    client_for: Callable[[User], Client],
) -> None:
    response = client_for(admin_user).post(
        _change_url(study), _study_form(study, audit_bulk_records=90, reason_for_change="Review")
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.audit_bulk_records == 90


@pytest.mark.requirement("PROT-SETTINGS", "PROT-SETTINGS-LOCKED", "CFR11-10E-CONTENT")
def test_the_admin_asks_a_reason_after_randomization_and_audits_it(
    study: Study,
    admin_user: User,
    randomized: Any,
    client_for: Callable[[User], Client],
) -> None:
    client = client_for(admin_user)
    refused = client.post(_change_url(study), _study_form(study, efficacy_null_rate="0.5"))
    assert refused.status_code == 200
    assert "A reason for change is required" in refused.content.decode()
    study.refresh_from_db()
    assert study.efficacy_null_rate == Decimal("0.0500")

    accepted = client.post(
        _change_url(study),
        _study_form(study, efficacy_null_rate="0.1", reason_for_change="Amendment 3"),
    )
    assert accepted.status_code == 302
    (event,) = _updates(study)
    assert event.pgh_diff == {"efficacy_null_rate": [0.05, 0.1]}
    assert event.pgh_context["reason"] == "Amendment 3"
    assert event.pgh_context["role"] == "admin"


@pytest.mark.requirement("PROT-SETTINGS")
def test_the_admin_names_a_refused_value_on_its_field(
    study: Study, admin_user: User, client_for: Callable[[User], Client]
) -> None:
    response = client_for(admin_user).post(
        _change_url(study),
        _study_form(study, code="", dosing_days="sixteen", reason_for_change="Amendment 7"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"code", "dosing_days"}
    study.refresh_from_db()
    assert study.code == "TAC-RI"


@pytest.mark.requirement("PROT-SETTINGS-LOCKED")
def test_the_efficacy_report_keeps_the_locked_null_rate(
    study: Study,
    admin_user: User,
    database_lock: Lock,
    client_for: Callable[[User], Client],
    api_for: Callable[[User], Any],
) -> None:
    client_for(admin_user).post(
        _change_url(study),
        _study_form(study, efficacy_null_rate="0.5", reason_for_change="Try another rate"),
    )
    report = api_for(admin_user).get("/api/v1/reports/efficacy/")
    assert report.status_code == 200
    assert report.json()["null_rate"] == 0.05


# -- the commands ---------------------------------------------------------------------


@pytest.mark.requirement("API-CMD-SETUP-TRIAL", "PROT-SETTINGS-LOCKED")
def test_setup_trial_changes_no_setting_of_a_locked_study(
    study: Study, admin_user: User, database_lock: Lock
) -> None:
    study_settings_change(
        study=study, changes={"audit_late_entry_days": 10}, reason="SOP 12", performed_by=admin_user
    )
    events = Events.objects.across("studies.StudyEvent").count()
    sites = sorted(study.sites.values_list("code", flat=True))
    output = io.StringIO()
    call_command("setup_trial", stdout=output)
    call_command("setup_trial")
    assert "locked, so nothing was added" in output.getvalue()
    assert sorted(study.sites.values_list("code", flat=True)) == sites
    study.refresh_from_db()
    assert study.audit_late_entry_days == 10
    assert study.efficacy_null_rate == Decimal("0.0500")
    assert Events.objects.across("studies.StudyEvent").count() == events


@pytest.mark.requirement("PROT-SETTINGS")
def test_the_admin_refuses_a_control_character_in_an_item_of_a_list_setting(
    study: Study, admin_user: User, client_for: Callable[[User], Client]
) -> None:
    before = list(study.consent_versions)
    response = client_for(admin_user).post(
        _change_url(study),
        _study_form(
            study,
            consent_versions=",".join([*before, "v3\x01"]),
            reason_for_change="Amendment 8",
        ),
    )
    assert response.status_code == 200
    assert "U+0001" in response.content.decode()
    study.refresh_from_db()
    assert study.consent_versions == before
