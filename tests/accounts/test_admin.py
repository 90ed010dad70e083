"""Account and study administration: admins only, every change with a reason, nothing deleted."""

from __future__ import annotations

import pytest
from pghistory.models import Events

from ..factories import deactivation_form

pytestmark = pytest.mark.django_db


def _study_form(study, **changes):
    data = {
        "code": study.code,
        "title_en": study.title_en,
        "title_ja": study.title_ja,
        "registry_id": study.registry_id,
        "target_enrollment": study.target_enrollment,
        "mfa_required": "on" if study.mfa_required else "",
        "eligibility_age_min": study.eligibility_age_min,
        "eligibility_age_max": study.eligibility_age_max,
        "screening_age_min": study.screening_age_min,
        "screening_age_max": study.screening_age_max,
        "min_prior_transfers": study.min_prior_transfers,
        "min_prior_embryos": study.min_prior_embryos,
        "th1_th2_threshold": study.th1_th2_threshold,
        "consent_versions": ",".join(study.consent_versions),
        "stratify_by_site": "on" if study.stratify_by_site else "",
        "randomization_block_sizes": ",".join(map(str, study.randomization_block_sizes)),
        "dosing_start_offset": study.dosing_start_offset,
        "dosing_days": study.dosing_days,
        "min_days_randomization_to_et": study.min_days_randomization_to_et,
        "max_days_randomization_to_et": study.max_days_randomization_to_et,
        "blinded": "on" if study.blinded else "",
        "blinded_roles": ",".join(study.blinded_roles),
        "efficacy_null_rate": study.efficacy_null_rate,
        "efficacy_alpha": study.efficacy_alpha,
        "efficacy_visible_before_lock": "on" if study.efficacy_visible_before_lock else "",
        "audit_late_entry_days": study.audit_late_entry_days,
        "audit_working_hours_start": study.audit_working_hours_start.strftime("%H:%M"),
        "audit_working_hours_end": study.audit_working_hours_end.strftime("%H:%M"),
        "audit_bulk_records": study.audit_bulk_records,
    }
    data.update(changes)
    return data


@pytest.mark.requirement("PROT-SETTINGS", "PROT-ET-MOVE")
def test_the_earliest_embryo_transfer_cannot_come_after_the_latest(make_user, client_for, study):
    client = client_for(make_user("admin"))
    url = f"/admin/studies/study/{study.pk}/change/"
    refused = client.post(
        url,
        _study_form(
            study,
            min_days_randomization_to_et=study.max_days_randomization_to_et + 1,
            reason_for_change="Amendment 4",
        ),
    )
    assert refused.status_code == 200
    assert b"The earliest embryo transfer cannot come after the latest." in refused.content
    study.refresh_from_db()
    assert study.min_days_randomization_to_et == 2


@pytest.mark.requirement("PROT-SETTINGS", "CFR11-10E-CONTENT", "ICH-E6R3-4.2.2-CHANGES")
def test_admin_change_of_a_study_setting_needs_a_reason(make_user, client_for, study):
    client = client_for(make_user("admin"))
    url = f"/admin/studies/study/{study.pk}/change/"
    refused = client.post(url, _study_form(study, target_enrollment=30, reason_for_change=""))
    assert refused.status_code == 200
    assert b"A reason for change is required" in refused.content
    study.refresh_from_db()
    assert study.target_enrollment == 26

    accepted = client.post(
        url, _study_form(study, target_enrollment=30, reason_for_change="Amendment 2")
    )
    assert accepted.status_code == 302
    event = Events.objects.tracks(study).filter(pgh_label="update").get()
    assert event.pgh_diff == {"target_enrollment": [26, 30]}
    assert event.pgh_context["reason"] == "Amendment 2"
    assert event.pgh_context["role"] == "admin"


@pytest.mark.requirement("CFR11-10C-PROTECTION", "ICH-E6R3-4.2.7-RETENTION")
def test_admin_cannot_delete_study_data(make_user, client_for, participant_a, study):
    client = client_for(make_user("admin"))
    assert (
        client.get(f"/admin/participants/participant/{participant_a.pk}/delete/").status_code == 403
    )
    assert client.get(f"/admin/studies/study/{study.pk}/delete/").status_code == 403


@pytest.mark.requirement("CFR11-10C-PROTECTION", "CFR11-10G-AUTHORITY")
def test_admin_sees_participants_read_only(make_user, client_for, participant_a):
    client = client_for(make_user("admin"))
    url = f"/admin/participants/participant/{participant_a.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    client.post(url, {"birth_date": "1980-01-01"})
    participant_a.refresh_from_db()
    assert str(participant_a.birth_date) == "1990-05-17"


@pytest.mark.requirement(
    "CFR11-300C-LOSS",
    "CFR11-100A-UNIQUE",
    "CFR11-300-PASSWORDS",
    "ICH-E6R3-4.2.2-ACCOUNTS-LOG",
    "ICH-E6R3-4.3.8-USER-MANAGEMENT",
)
def test_admin_deactivates_an_account_with_a_reason(make_user, client_for, coordinator_b):
    client = client_for(make_user("admin"))
    url = f"/admin/accounts/user/{coordinator_b.pk}/change/"
    data = deactivation_form(coordinator_b, "Left the hospital")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    coordinator_b.refresh_from_db()
    assert not coordinator_b.is_active
    event = Events.objects.tracks(coordinator_b).filter(pgh_label="update").get()
    assert event.pgh_diff["is_active"] == [True, False]
    assert event.pgh_context["reason"] == "Left the hospital"
    assert "password" not in event.pgh_data


@pytest.mark.requirement("CFR11-10B-READABLE", "CFR11-10E-REVIEW", "ICH-E6R3-4.2.2-INTERPRETABLE")
def test_admin_history_shows_the_audit_trail_of_a_record(make_user, client_for, study):
    client = client_for(make_user("admin"))
    url = f"/admin/studies/study/{study.pk}/change/"
    client.post(url, _study_form(study, target_enrollment=28, reason_for_change="Amendment 3"))
    page = client.get(f"/admin/studies/study/{study.pk}/history/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Amendment 3" in html
    assert ">26<" in html and ">28<" in html
