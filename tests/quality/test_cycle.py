"""Verification, signatures and locks: a change voids what it must; locks hold on every path."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from pghistory.models import Events

from ecrf.common import catalogue
from ecrf.common.guard import is_lock_violation
from ecrf.endpoints.models import BiochemicalPregnancy
from ecrf.quality.models import Lock, Signature, Verification
from ecrf.quality.services import verification_mark
from ecrf.schedule.services import drug_return_record

from ..clock import at
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def put(api, participant, record, **body):
    return api.put(f"/api/v1/participants/{participant.pk}/{record}/", body, format="json")


@pytest.fixture
def completed(api_for, coordinator_a, transferred):
    api = api_for(coordinator_a)
    with at("2026-03-15"):
        assert (
            put(
                api,
                transferred,
                "biochemical-pregnancy",
                assessed_on="2026-03-15",
                serum_hcg_miu_ml=140,
                result="positive",
            ).status_code
            == 200
        )
    with at("2026-03-22"):
        assert (
            put(
                api,
                transferred,
                "clinical-pregnancy",
                assessed_on="2026-03-22",
                gestational_sac_seen=True,
                result="positive",
            ).status_code
            == 200
        )
        drug_return_record(
            participant=transferred,
            returned_on=dt.date(2026, 3, 22),
            capsules=0,
            performed_by=coordinator_a,
        )
    transferred.refresh_from_db()
    assert transferred.status == "completed"
    return transferred


@pytest.mark.requirement(
    "API-SIGNATURE", "CFR11-50-MANIFESTATION", "CFR11-70-LINKING", "CFR11-200A-COMPONENTS"
)
def test_a_signature_needs_the_investigators_password(api_for, make_user, completed):
    investigator = make_user("investigator", ["S01"], printed_name="田中 一郎")
    api = api_for(investigator)
    wrong = api.post(
        f"/api/v1/participants/{completed.pk}/signature/", {"password": "nope"}, format="json"
    )
    assert wrong.status_code == 400 and "password" in wrong.json()
    signed = api.post(
        f"/api/v1/participants/{completed.pk}/signature/",
        {"password": PASSWORD, "meaning": "I have reviewed the casebook."},
        format="json",
    )
    assert signed.status_code == 201
    body = signed.json()
    assert body["printed_name"] == "田中 一郎"
    assert body["meaning"] == "I have reviewed the casebook."
    assert len(body["data_hash"]) == 64 and body["voided_at"] is None


@pytest.mark.requirement("API-SIGNATURE", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["coordinator", "monitor", "data_manager"])
def test_only_investigators_sign(role, api_for, make_user, completed):
    response = api_for(make_user(role)).post(
        f"/api/v1/participants/{completed.pk}/signature/", {"password": PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert not Signature.objects.exists()


@pytest.mark.requirement("CFR11-200A-COMPONENTS", "CFR11-300D-SAFEGUARDS")
def test_wrong_signature_passwords_count_toward_lockout(api_for, client_for, make_user, completed):
    from django.test import Client

    investigator = make_user("investigator", ["S01"])
    api = api_for(investigator)
    # Signed in before the lockout (a sign-in clears her count of failures).
    session = client_for(investigator)
    for _ in range(5):
        api.post(
            f"/api/v1/participants/{completed.pk}/signature/", {"password": "wrong"}, format="json"
        )
    response = Client().post(
        "/accounts/login/", {"username": investigator.username, "password": PASSWORD}
    )
    assert response.status_code == 403 and b'id="locked"' in response.content
    # The lockout revoked her API key: whoever was guessing must not keep a key.
    signature = f"/api/v1/participants/{completed.pk}/signature/"
    assert api.post(signature, {"password": PASSWORD}, format="json").status_code == 401
    # Under the API the lockout answers as the contract does: JSON.
    again = session.post(signature, {"password": PASSWORD}, content_type="application/json")
    assert again.status_code == 403
    assert "locked" in again.json()["detail"]


@pytest.mark.requirement(
    "CFR11-70-LINKING",
    "API-SIGNATURE",
    "ICH-E6R3-INVESTIGATOR-OVERSIGHT",
    "ICH-E6R3-4.2.3-REVIEW",
    "ICH-E6R3-4.2.2-WORKFLOW",
)
def test_a_change_after_signing_voids_the_signature_and_clears_verification(
    api_for, coordinator_a, make_user, completed
):
    monitor = make_user("monitor", ["S01"])
    verification_mark(participant=completed, record="biochemical_pregnancy", performed_by=monitor)
    verification_mark(participant=completed, record="clinical_pregnancy", performed_by=monitor)
    investigator = make_user("investigator", ["S01"])
    api_for(investigator).post(
        f"/api/v1/participants/{completed.pk}/signature/", {"password": PASSWORD}, format="json"
    )
    signature = Signature.objects.get()

    with at("2026-03-22"):
        response = put(
            api_for(coordinator_a),
            completed,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=145,
            result="positive",
            reason="Corrected from the lab report",
        )
    assert response.status_code == 200
    signature.refresh_from_db()
    assert signature.voided_at is not None
    assert (
        "biochemical_pregnancy" in signature.void_reason
        and "serum_hcg_miu_ml" in signature.void_reason
    )
    cleared = Verification.objects.filter(cleared_at__isnull=False)
    assert [(v.record, v.field) for v in cleared] == [("biochemical_pregnancy", "serum_hcg_miu_ml")]
    assert "serum_hcg_miu_ml" in cleared.get().cleared_reason
    assert Verification.objects.filter(record="clinical_pregnancy", cleared_at=None).exists()
    # The other values of the changed form keep their marks: each value has its own.
    assert Verification.objects.filter(record="biochemical_pregnancy", cleared_at=None).exists()
    voided = Events.objects.tracks(signature).filter(pgh_label="update").get()
    assert voided.pgh_diff["voided_at"][0] is None


@pytest.mark.requirement("CFR11-10E-CONTENT", "PROT-LANGUAGE")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "voided: Biochemical pregnancy changed: Serum hCG (mIU/mL)"),
        ("ja", "無効: 生化学的妊娠が変更されました: 血中hCG（mIU/mL）"),
    ],
)
def test_her_page_says_why_a_signature_was_voided_by_labels_in_the_readers_language(
    api_for, client_for, coordinator_a, make_user, completed, language, words
):
    investigator = make_user("investigator", ["S01"])
    api_for(investigator).post(
        f"/api/v1/participants/{completed.pk}/signature/", {"password": PASSWORD}, format="json"
    )
    with at("2026-03-22"):
        put(
            api_for(coordinator_a),
            completed,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=145,
            result="positive",
            reason="Corrected from the lab report",
        )
        reader = make_user("monitor", ["S01"], language=language)
        html = client_for(reader).get(f"/participants/{completed.pk}/").content.decode()
    signatures = html.split('id="signatures"', 1)[1].split("</ul>", 1)[0]
    assert "serum_hcg_miu_ml" not in signatures and "biochemical_pregnancy" not in signatures
    assert words in " ".join(signatures.split())


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_a_field_mark_is_cleared_only_by_a_change_of_that_field(
    api_for, coordinator_a, make_user, completed
):
    monitor = make_user("monitor", ["S01"])
    verification_mark(
        participant=completed,
        record="biochemical_pregnancy",
        fields=["result"],
        performed_by=monitor,
    )
    with at("2026-03-22"):
        put(
            api_for(coordinator_a),
            completed,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=150,
            result="positive",
            reason="Typo",
        )
    assert Verification.objects.get().cleared_at is None


@pytest.mark.requirement(
    "API-LOCK",
    "API-CONV-409-STATE",
    "ICH-E6R3-4.2.6-FINALISATION",
    "CFR11-10F-SEQUENCING",
    "CFR11-10C-PROTECTION",
)
def test_a_locked_participant_refuses_every_write_path_until_unlocked(
    api_for, client_for, coordinator_a, make_user, completed
):
    data_manager = make_user("data_manager")
    dm = api_for(data_manager)
    assert (
        dm.post(f"/api/v1/participants/{completed.pk}/lock/", {}, format="json").status_code == 201
    )
    api = api_for(coordinator_a)
    with at("2026-03-22"):
        endpoint = put(
            api,
            completed,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=1,
            result="negative",
            reason="x",
        )
        dose = api.post(
            f"/api/v1/participants/{completed.pk}/doses/",
            {
                "date": "2026-03-10",
                "dose_mg": int(completed.allocation.arm.daily_dose_mg),
                "taken": True,
            },
            format="json",
        )
        et = api.put(
            f"/api/v1/participants/{completed.pk}/embryo-transfer/",
            {"et_date": "2026-03-02", "performed": False, "reason": "x"},
            format="json",
        )
        screening = api.patch(
            f"/api/v1/participants/{completed.pk}/",
            {"birth_date": "1990-05-18", "reason": "x"},
            format="json",
        )
        web = client_for(coordinator_a).post(
            f"/participants/{completed.pk}/endpoints/biochemical_pregnancy/",
            {
                "assessed_on": "2026-03-15",
                "serum_hcg_miu_ml": "2",
                "result": "negative",
                "reason": "x",
                "confirm_warnings": "on",
            },
        )
    for response in (endpoint, dose, et, screening):
        assert response.status_code == 409, response.content
        assert "locked" in response.json()["detail"]
    assert web.status_code == 409
    with (
        pytest.raises(DatabaseError) as excinfo,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE endpoints_biochemicalpregnancy SET serum_hcg_miu_ml = 1")
    assert is_lock_violation(excinfo.value)
    assert BiochemicalPregnancy.objects.get().serum_hcg_miu_ml == 140

    refused = dm.delete(f"/api/v1/participants/{completed.pk}/lock/", {}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    assert (
        dm.delete(
            f"/api/v1/participants/{completed.pk}/lock/",
            {"reason": "Query resolution"},
            format="json",
        ).status_code
        == 200
    )
    with at("2026-03-22"):
        assert (
            put(
                api,
                completed,
                "biochemical-pregnancy",
                assessed_on="2026-03-15",
                serum_hcg_miu_ml=141,
                result="positive",
                reason="After unlock",
            ).status_code
            == 200
        )
    lock = Lock.objects.get()
    assert lock.unlock_reason == "Query resolution"


@pytest.mark.requirement("API-LOCK", "ICH-E6R3-4.2.6-FINALISATION")
def test_a_form_lock_holds_that_form_only(api_for, coordinator_a, make_user, completed):
    dm = api_for(make_user("data_manager"))
    assert (
        dm.post(
            f"/api/v1/participants/{completed.pk}/lock/",
            {"record": "clinical_pregnancy"},
            format="json",
        ).status_code
        == 201
    )
    api = api_for(coordinator_a)
    with at("2026-03-22"):
        clinical = put(
            api,
            completed,
            "clinical-pregnancy",
            assessed_on="2026-03-22",
            gestational_sac_seen=False,
            result="negative",
            reason="x",
        )
        biochemical = put(
            api,
            completed,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=141,
            result="positive",
            reason="ok",
        )
    assert clinical.status_code == 409 and biochemical.status_code == 200


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION")
def test_a_database_lock_holds_every_participant_and_new_registrations(
    api_for, coordinator_a, make_user, completed, study
):
    from ecrf.quality.services import lock_set

    lock_set(study=study, performed_by=make_user("data_manager"))
    response = api_for(coordinator_a).post(
        "/api/v1/participants/",
        {"site": "S01", "screening_date": "2026-11-01", "birth_date": "1990-01-01"},
        format="json",
    )
    assert response.status_code == 409


@pytest.mark.requirement("API-LOCK", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["coordinator", "monitor", "investigator", "statistician"])
def test_only_data_managers_lock(role, api_for, make_user, completed):
    response = api_for(make_user(role)).post(
        f"/api/v1/participants/{completed.pk}/lock/", {}, format="json"
    )
    assert response.status_code == 403
    assert not Lock.objects.exists()


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION", "CFR11-70-LINKING")
def test_every_table_of_participant_data_is_guarded():
    """A new table with a participant column must get the guard (or this test fails)."""
    import pghistory.models
    from django.apps import apps

    from ecrf.common.guard import GUARDED_RECORDS

    exempt = {
        "quality.Signature",
        "quality.Verification",
        "quality.Lock",
        "randomization.AllocationRequest",
        "schedule.Reminder",
        # Questions about the data, not the data: a query neither voids a signature nor
        # is frozen by a lock.
        "queries.Query",
        # The audit trail's review index: a copy of the trail, written only by the index.
        "review.AuditEntry",
        # Counts and facts written only by the triggers that keep them.
        *(table.model for table in catalogue.KEPT_COUNTS),
    }
    missing = []
    for model in apps.get_models():
        label = model._meta.label
        if label in exempt or issubclass(model, pghistory.models.Event) or model._meta.proxy:
            continue
        fk_to_participant = any(
            getattr(f, "related_model", None) is not None
            and f.related_model._meta.label == "participants.Participant"
            and f.concrete
            for f in model._meta.get_fields()
        )
        if (
            fk_to_participant or label == "participants.Participant"
        ) and model not in GUARDED_RECORDS:
            missing.append(label)
    assert missing == []


@pytest.mark.requirement(
    "CFR11-50-MANIFESTATION",
    "CFR11-10B-READABLE",
    "ICH-E6R3-4.2.3-REVIEW",
    "ICH-E6R3-4.2.6-FINALISATION",
)
def test_the_participant_page_signs_verifies_and_locks(client_for, make_user, completed):
    investigator = make_user("investigator", ["S01"], printed_name="Ichiro Tanaka")
    signed = client_for(investigator).post(
        f"/participants/{completed.pk}/sign/",
        {"meaning": "I have reviewed it.", "password": PASSWORD, "sign_anyway": "on"},
    )
    assert signed.status_code == 302  # signed with her forms not yet verified
    monitor = make_user("monitor", ["S01"])
    client_for(monitor).post(f"/participants/{completed.pk}/verify/", {"record": "consent"})
    data_manager = make_user("data_manager")
    client_for(data_manager).post(f"/participants/{completed.pk}/lock/", {"reason": "Ready"})
    page = client_for(monitor).get(f"/participants/{completed.pk}/").content.decode()
    panel = page.split('id="quality-panel"')[1].split("Status history")[0]
    assert "Ichiro Tanaka" in panel and "I have reviewed it." in panel
    assert "consent" in panel
    assert Lock.objects.get().reason == "Ready"
    refused = client_for(data_manager).post(
        f"/participants/{completed.pk}/unlock/", {"reason": ""}, follow=True
    )
    assert b"Give the reason for unlocking" in refused.content
    assert Lock.objects.get().unlocked_at is None


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION")
def test_data_manager_locks_and_unlocks_the_study_from_the_home_page(
    client_for, api_for, coordinator_a, make_user, completed
):
    data_manager = client_for(make_user("data_manager"))
    assert b'id="database-lock"' in data_manager.get("/").content
    data_manager.post("/participants/study/lock/", {"reason": "Database lock for analysis"})
    assert Lock.objects.get().scope == "study"
    response = api_for(coordinator_a).post(
        "/api/v1/participants/",
        {"site": "S01", "screening_date": "2026-11-01", "birth_date": "1990-01-01"},
        format="json",
    )
    assert response.status_code == 409
    again = data_manager.post("/participants/study/lock/", {"reason": "Second tab, typed"})
    assert again.status_code == 409
    page = again.content.decode()
    assert "This is already locked." in page and 'value="Second tab, typed"' in page
    assert Lock.objects.count() == 1
    refused = data_manager.post("/participants/study/unlock/", {"reason": ""})
    assert refused.status_code == 400
    assert "Give the reason for unlocking." in refused.content.decode()
    assert 'id="study-unlock-reason-error"' in refused.content.decode()
    assert Lock.objects.get().unlocked_at is None
    data_manager.post("/participants/study/unlock/", {"reason": "Late query to resolve"})
    assert Lock.objects.get().unlocked_at is not None


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
def test_only_data_managers_lock_the_study(client_for, make_user, study):
    for role in ["coordinator", "monitor", "statistician", "admin"]:
        client_for(make_user(role)).post("/participants/study/lock/", {"reason": "x"})
    assert not Lock.objects.exists()


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION")
def test_a_form_lock_from_the_participant_page(client_for, make_user, completed):
    client_for(make_user("data_manager")).post(
        f"/participants/{completed.pk}/lock/", {"record": "consent", "reason": "Verified"}
    )
    lock = Lock.objects.get()
    assert (lock.scope, lock.record) == ("form", "consent")
