"""Schedule settings are data: checked at start-up and refused when inconsistent."""

from __future__ import annotations

import pytest

from ecrf.schedule.checks import check_stored_schedules
from ecrf.studies.models import Arm, VisitDefinition

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("PROT-SETTINGS")
def test_stored_schedules_of_the_trial_pass_the_database_check(study):
    assert check_stored_schedules() == []


@pytest.mark.requirement("PROT-SETTINGS", "PROT-DOSE-ARMS")
def test_an_arm_dose_that_cannot_be_split_into_intakes_fails_the_check(study):
    Arm.objects.filter(code="low").update(daily_dose_mg=3)
    errors = check_stored_schedules()
    assert [e.id for e in errors] == ["schedule.E004"]
    assert "cannot be split into 2 equal intakes" in errors[0].msg


@pytest.mark.requirement("PROT-SETTINGS", "CFR11-10A-INVALID")
def test_admin_refuses_a_window_that_ends_before_it_starts(make_user, client_for, study):
    client = client_for(make_user("admin"))
    visit = VisitDefinition.objects.get(code="biochemical_pregnancy")
    response = client.post(
        f"/admin/studies/visitdefinition/{visit.pk}/change/",
        {
            "study": study.pk,
            "code": visit.code,
            "name_en": visit.name_en,
            "name_ja": visit.name_ja,
            "target_offset": 14,
            "window_start_offset": 16,
            "window_end_offset": 14,
            "order": 0,
            "reason_for_change": "Try a broken window",
        },
    )
    assert response.status_code == 200
    assert b"a window cannot end before it starts" in response.content
    visit.refresh_from_db()
    assert (visit.window_start_offset, visit.window_end_offset) == (14, 16)


@pytest.mark.requirement("PROT-SETTINGS")
def test_migrate_runs_the_database_check(study):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    Arm.objects.filter(code="low").update(daily_dose_mg=3)
    with pytest.raises(SystemCheckError, match="schedule.E004"):
        call_command("check", "--database", "default")
