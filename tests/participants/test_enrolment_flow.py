"""Eligibility, consent and the randomize step in the web pages and the API."""

from __future__ import annotations

import datetime as dt

import pytest

from ecrf.notifications.models import StaffNotification
from ecrf.participants.models import Eligibility, Unblinding
from randomization.models import Slot

from ..factories import ELIGIBLE_ANSWERS

pytestmark = pytest.mark.django_db


def _form_answers(**changes):
    data = {k: ("" if v is None else v) for k, v in ELIGIBLE_ANSWERS.items()}
    data.update(changes)
    return data


@pytest.mark.requirement(
    "PROT-ELIG-RESULT", "PROT-SCREEN-LOG", "PROT-ELIG-EXCLUSION", "PROT-ELIG-TH1TH2"
)
def test_eligibility_form_stores_result_and_failed_codes(client_for, coordinator_a, participant_a):
    client = client_for(coordinator_a)
    url = f"/participants/{participant_a.pk}/eligibility/"
    assert client.get(url).status_code == 200
    response = client.post(url, _form_answers(th1_th2_ratio="9.5", pregnant="True"))
    assert response.status_code == 302
    record = Eligibility.objects.get(participant=participant_a)
    assert not record.eligible
    assert record.failed_criteria == ["th1_th2_ratio", "pregnant"]
    participant_a.refresh_from_db()
    assert participant_a.status == "screen_failed"
    page = client.get(f"/participants/{participant_a.pk}/").content.decode()
    assert (
        '<span id="failed-criteria">Th1/Th2 ratio at or above the threshold; Currently pregnant'
        in page
    )


@pytest.mark.requirement("PROT-ELIG-RESULT", "ICH-E6R3-4.2.1-CAPTURE")
def test_eligibility_check_tells_which_criterion_fails_as_she_types(
    client_for, coordinator_a, participant_a
):
    client = client_for(coordinator_a)
    url = f"/participants/{participant_a.pk}/eligibility/check/"
    partial = client.post(url, {"th1_th2_ratio": "8.0"}).json()
    assert partial["complete"] is False
    assert [f["code"] for f in partial["failures"]] == ["th1_th2_ratio"]
    assert "8.0" in partial["failures"][0]["message"]
    full = client.post(url, _form_answers()).json()
    assert full == {"complete": True, "eligible": True, "failures": [], "field_errors": {}}
    assert not Eligibility.objects.exists()


@pytest.mark.requirement("CFR11-10A-INVALID", "ICH-E6R3-4.3.3-HOSTILE")
def test_eligibility_check_rejects_garbage_without_a_500(client_for, coordinator_a, participant_a):
    response = client_for(coordinator_a).post(
        f"/participants/{participant_a.pk}/eligibility/check/", {"th1_th2_ratio": "abc"}
    )
    assert response.status_code == 200
    assert "th1_th2_ratio" in response.json()["field_errors"]


@pytest.mark.requirement(
    "CFR11-10E-CONTENT", "ICH-E6R3-4.2.4-CORRECTIONS", "ICH-E6R3-4.2.2-CHANGES"
)
def test_changing_saved_eligibility_needs_a_reason(client_for, coordinator_a, participant_a):
    client = client_for(coordinator_a)
    url = f"/participants/{participant_a.pk}/eligibility/"
    client.post(url, _form_answers())
    refused = client.post(url, _form_answers(prior_embryos_transferred="6"))
    assert refused.status_code == 400
    assert b"A reason for change is required" in refused.content
    assert (
        client.post(
            url, _form_answers(prior_embryos_transferred="6", reason="Recounted from the chart")
        ).status_code
        == 302
    )
    assert Eligibility.objects.get().prior_embryos_transferred == 6


@pytest.mark.requirement("PROT-CONSENT", "CFR11-10F-SEQUENCING", "ICH-E6R3-CONSENT")
def test_consent_before_screening_is_refused(client_for, coordinator_a, participant_a):
    before = participant_a.screening_date - dt.timedelta(days=1)
    response = client_for(coordinator_a).post(
        f"/participants/{participant_a.pk}/consent/",
        {"consent_date": before.isoformat(), "consent_version": "1.0"},
    )
    assert response.status_code == 400
    assert b"Consent cannot be dated before screening" in response.content


@pytest.mark.requirement("PROT-ELIG-AGE", "API-ELIGIBILITY", "API-PARTICIPANT-DETAIL")
def test_age_is_counted_at_consent(api_for, coordinator_a, site_a):
    from ..factories import ParticipantFactory

    screening = dt.date.today() - dt.timedelta(days=20)
    birth = screening.replace(year=screening.year - 40) + dt.timedelta(days=10)
    participant = ParticipantFactory(
        site=site_a, performed_by=coordinator_a, screening_date=screening, birth_date=birth
    )
    api = api_for(coordinator_a)
    first = api.put(
        f"/api/v1/participants/{participant.pk}/eligibility/", {**_json_answers()}, format="json"
    )
    assert first.json()["eligible"] is True
    api.post(
        f"/api/v1/participants/{participant.pk}/consent/",
        {"consent_date": (screening + dt.timedelta(days=15)).isoformat(), "consent_version": "1.0"},
        format="json",
    )
    body = api.get(f"/api/v1/participants/{participant.pk}/").json()
    assert body["eligibility"]["age_at_assessment"] == 40
    assert body["eligibility"]["failed_criteria"] == ["age"]
    assert body["status"] == "screen_failed"
    # Her status moved because her age at consent failed the criterion, and says so.
    change = participant.status_changes.get(to_status="screen_failed")
    assert change.reason_code == "age_counted_at_consent"


@pytest.mark.requirement("PROT-ELIG-AGE")
def test_consent_with_no_change_of_eligibility_moves_her_for_the_consent(
    coordinator_a, participant_a
):
    from ecrf.participants.services import consent_record, eligibility_record

    eligibility_record(
        participant=participant_a, answers=dict(ELIGIBLE_ANSWERS), performed_by=coordinator_a
    )
    consent_record(
        participant=participant_a,
        consent_date=participant_a.screening_date,
        consent_version="1.0",
        performed_by=coordinator_a,
    )
    change = participant_a.status_changes.get(to_status="consented")
    assert (change.reason_code, change.reason) == ("consent_recorded", "Consent recorded")


def _json_answers(**changes):
    data = {k: (str(v) if k == "th1_th2_ratio" else v) for k, v in ELIGIBLE_ANSWERS.items()}
    data.update(changes)
    return data


@pytest.mark.requirement("API-ELIGIBILITY", "PROT-ELIG-RESULT", "PROT-ELIG-PRIOR-TRANSFERS")
def test_eligibility_api_answers_eligible_and_failed_criteria(
    api_for, coordinator_a, participant_a
):
    api = api_for(coordinator_a)
    url = f"/api/v1/participants/{participant_a.pk}/eligibility/"
    ok = api.put(url, _json_answers(), format="json")
    assert ok.status_code == 200
    assert ok.json()["eligible"] is True and ok.json()["failed_criteria"] == []
    failing = api.put(
        url, _json_answers(prior_good_quality_transfers=2, reason="Chart recount"), format="json"
    )
    assert failing.json()["failed_criteria"] == ["prior_good_quality_transfers"]


@pytest.mark.requirement("API-ELIGIBILITY", "API-CONV-400-FIELDS", "CFR11-10A-INVALID")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("th1_th2_ratio", -1),
        ("th1_th2_ratio", "abc"),
        ("prior_embryos_transferred", "many"),
        ("pregnant", "perhaps"),
    ],
)
def test_eligibility_api_refuses_bad_values_naming_the_field(
    api_for, coordinator_a, participant_a, field, value
):
    response = api_for(coordinator_a).put(
        f"/api/v1/participants/{participant_a.pk}/eligibility/",
        _json_answers(**{field: value}),
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Eligibility.objects.exists()


@pytest.mark.requirement("API-ELIGIBILITY", "API-CONV-400-FIELDS")
def test_eligibility_api_refuses_missing_answers(api_for, coordinator_a, participant_a):
    answers = _json_answers()
    del answers["pregnant"]
    response = api_for(coordinator_a).put(
        f"/api/v1/participants/{participant_a.pk}/eligibility/", answers, format="json"
    )
    assert response.status_code == 400 and "pregnant" in response.json()


@pytest.mark.requirement("API-CONSENT", "PROT-CONSENT", "ICH-E6R3-CONSENT")
def test_consent_api(api_for, coordinator_a, participant_a):
    api = api_for(coordinator_a)
    url = f"/api/v1/participants/{participant_a.pk}/consent/"
    bad = api.post(
        url,
        {"consent_date": participant_a.screening_date.isoformat(), "consent_version": "9.9"},
        format="json",
    )
    assert bad.status_code == 400 and "consent_version" in bad.json()
    ok = api.post(
        url,
        {"consent_date": participant_a.screening_date.isoformat(), "consent_version": "1.0"},
        format="json",
    )
    assert ok.status_code == 201


@pytest.mark.requirement("PROT-RAND-OPEN-LABEL", "PROT-RAND-CONCURRENCY", "PROT-RAND-STRATA")
def test_web_randomization_from_confirmation_to_the_arm(
    client_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    client = client_for(coordinator_a)
    confirm = client.get(f"/participants/{participant.pk}/randomize/")
    html = confirm.content.decode()
    assert "2:1" in html and "cannot be undone" in html
    token = html.split('name="token" value="')[1].split('"')[0]
    first = client.post(f"/participants/{participant.pk}/randomize/", {"token": token}, follow=True)
    again = client.post(f"/participants/{participant.pk}/randomize/", {"token": token}, follow=True)
    assert Slot.objects.filter(participant=participant).count() == 1
    page = again.content.decode()
    assert 'id="arm"' in page and 'id="randomization-number">S01-R001<' in page
    assert "already randomized" not in first.content.decode()
    assert "already randomized" not in page


@pytest.mark.requirement("PROT-RAND-RATIO")
def test_the_confirmation_states_the_arms_and_ratio_of_the_study(
    client_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    study = participant.site.study
    url = f"/participants/{participant.pk}/randomize/"
    html = client_for(coordinator_a).get(url).content.decode()
    assert "Low dose, 2 mg/day / High dose, 4 mg/day, in the ratio 2:1" in html
    assert "site S01's concealed list" in html
    study.arms.filter(code="high").update(name_en="High dose, 6 mg/day", allocation_weight=2)
    study.stratify_by_site = False
    study.save(update_fields=["stratify_by_site"])
    html = client_for(coordinator_a).get(url).content.decode()
    assert "Low dose, 2 mg/day / High dose, 6 mg/day, in the ratio 2:2" in html
    assert "the study's concealed list" in html
    assert "4 mg/day" not in html


@pytest.mark.requirement("PROT-RAND-CONCEAL", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION")
def test_detail_page_before_randomization_reveals_nothing_of_the_list(
    client_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    html = client_for(coordinator_a).get(f"/participants/{participant.pk}/").content.decode()
    assert "Randomize" in html
    for word in ("low", "high", "block", "sequence"):
        assert word not in html.lower().split("randomization-card")[1].split("status-history")[0]


@pytest.mark.requirement("PROT-RAND-CONCEAL", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION")
def test_history_hides_list_rows_from_site_staff(
    client_for, coordinator_a, ready_participant, make_user
):
    from randomization.services import participant_randomize

    participant = ready_participant()
    participant_randomize(participant=participant, idempotency_key="h", performed_by=coordinator_a)
    site_view = (
        client_for(coordinator_a).get(f"/participants/{participant.pk}/history/").content.decode()
    )
    assert "randomization slot" not in site_view
    assert "Block size" not in site_view and "block size" not in site_view
    statistician_view = (
        client_for(make_user("statistician"))
        .get(f"/participants/{participant.pk}/history/")
        .content.decode()
    )
    assert "randomization slot" in statistician_view


@pytest.mark.requirement(
    "PROT-RAND-BLINDING",
    "ICH-E6R3-4.1-BLINDING",
    "API-PARTICIPANT-DETAIL",
    "ICH-E6R3-4.2.2-WORKFLOW",
    "PROT-SETTINGS",
)
def test_blinded_study_hides_the_arm_until_an_investigator_unblinds(
    api_for,
    client_for,
    coordinator_a,
    ready_participant,
    make_user,
    study,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    from django.core import mail

    from randomization.services import participant_randomize

    study.blinded = True
    study.blinded_roles = ["coordinator", "monitor"]
    study.save()
    participant = ready_participant()
    participant_randomize(participant=participant, idempotency_key="b", performed_by=coordinator_a)
    body = api_for(coordinator_a).get(f"/api/v1/participants/{participant.pk}/").json()
    assert body["arm"] is None and body["dose_mg_per_day"] is None
    assert body["randomization_number"] == "S01-R001"
    assert (
        'id="arm-hidden"'
        in client_for(coordinator_a).get(f"/participants/{participant.pk}/").content.decode()
    )
    assert (
        api_for(make_user("data_manager"))
        .get(f"/api/v1/participants/{participant.pk}/")
        .json()["arm"]
    )

    make_user("data_manager", email="dm@example.org")
    make_user("data_manager", email="dm-ja@example.org", language="ja")
    make_user("data_manager", email="")
    investigator = make_user("investigator", ["S01"])
    client = client_for(investigator)
    refused = client.post(f"/participants/{participant.pk}/unblind/", {"reason": ""})
    assert refused.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/participants/{participant.pk}/unblind/", {"reason": "Severe adverse event"})
    assert Unblinding.objects.get().reason == "Severe adverse event"
    assert api_for(coordinator_a).get(f"/api/v1/participants/{participant.pk}/").json()["arm"] in {
        "low",
        "high",
    }
    mails = {m.to[0]: m for m in mail.outbox}
    assert sorted(mails) == ["dm-ja@example.org", "dm@example.org"]
    subject_id = participant.subject_id
    assert mails["dm@example.org"].subject == f"[TAC-RI] Unblinding of {subject_id}"
    assert "Reason: Severe adverse event" in mails["dm@example.org"].body
    assert mails["dm-ja@example.org"].subject == f"[TAC-RI] {subject_id} の盲検解除"
    assert "理由: Severe adverse event" in mails["dm-ja@example.org"].body
    # Each e-mail is an outbox row, marked sent.
    notifications = StaffNotification.objects.filter(kind="unblinding")
    assert {(n.recipient.email, n.sent_at is not None) for n in notifications} == {
        ("dm@example.org", True),
        ("dm-ja@example.org", True),
    }


@pytest.mark.requirement("PROT-RAND-BLINDING", "PROT-RAND-OPEN-LABEL")
def test_open_label_study_refuses_unblinding(
    client_for, coordinator_a, ready_participant, make_user
):
    from randomization.services import participant_randomize

    participant = ready_participant()
    participant_randomize(participant=participant, idempotency_key="o", performed_by=coordinator_a)
    client = client_for(make_user("investigator", ["S01"]))
    response = client.post(
        f"/participants/{participant.pk}/unblind/", {"reason": "why"}, follow=True
    )
    assert b"open-label" in response.content
    assert not Unblinding.objects.exists()
