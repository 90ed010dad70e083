"""Status reasons the system writes are read in the reader's language; a person's reason
as typed; the record and the audit trail keep the system's in English."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import translation

from ecrf.common.messages import MESSAGES
from ecrf.participants.models import StatusChange
from ecrf.participants.services import eligibility_record, participant_withdraw
from ecrf.quality.models import Lock
from tests.conftest import eligible_consented, randomized_on_20_february
from tests.factories import ELIGIBLE_ANSWERS, ParticipantFactory

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("ecrf.participants.migrations.0007_status_reasons_as_codes")


def status_history(client, participant) -> str:
    html = client.get(f"/participants/{participant.pk}/").content.decode()
    start = html.index('id="status-history"')
    return html[start : html.index("</table>", start)]


@pytest.mark.requirement("PROT-LANGUAGE")
def test_reasons_an_english_user_caused_read_in_japanese_for_a_japanese_user(
    site_a, make_user, client_for
):
    english = make_user("coordinator", ["S01"], language="en")
    with translation.override("en"):
        participant = randomized_on_20_february(site_a, english)
    number = participant.allocation.randomization_number
    japanese = make_user("coordinator", ["S01"], language="ja")

    shown = status_history(client_for(japanese), participant)

    assert "適格性判定を実施" in shown
    assert "同意取得を記録" in shown
    assert f"無作為割付（割付番号 {number}）" in shown
    assert "Eligibility assessed" not in shown
    assert "Randomized" not in shown


@pytest.mark.requirement("PROT-LANGUAGE")
def test_reasons_a_japanese_user_caused_read_in_english_and_are_kept_in_english(
    site_a, make_user, client_for
):
    japanese = make_user("coordinator", ["S01"], language="ja")
    with translation.override("ja"):
        participant = randomized_on_20_february(site_a, japanese)
    number = participant.allocation.randomization_number
    english = make_user("monitor", ["S01"], language="en")

    shown = status_history(client_for(english), participant)

    assert "Consent recorded" in shown
    assert f"Randomized: {number}" in shown
    assert "同意取得を記録" not in shown
    kept = list(participant.status_changes.values_list("reason", "reason_code", "reason_params"))
    assert ("Consent recorded", "consent_recorded", {}) in kept
    assert (f"Randomized: {number}", "randomized", {"number": number}) in kept


@pytest.mark.requirement("PROT-LANGUAGE")
def test_the_audit_trail_keeps_the_english_reason_whoever_caused_it(site_a, make_user, client_for):
    japanese = make_user("coordinator", ["S01"], language="ja")
    with translation.override("ja"):
        participant = eligible_consented(site_a, japanese)
    change = participant.status_changes.get(reason_code="consent_recorded")
    event = apps.get_model("participants", "StatusChangeEvent").objects.get(
        pgh_obj_id=change.pk, pgh_label="create"
    )
    assert event.reason == "Consent recorded"
    assert event.pgh_context["reason"] == "Consent recorded"
    history = client_for(japanese).get(f"/participants/{participant.pk}/history/")
    assert "Consent recorded" in history.content.decode()


@pytest.mark.requirement("PROT-LANGUAGE")
def test_a_withdrawal_reason_shows_as_the_coordinator_typed_it(site_a, make_user, client_for):
    japanese = make_user("coordinator", ["S01"], language="ja")
    with translation.override("ja"):
        participant = eligible_consented(site_a, japanese)
        participant_withdraw(
            participant=participant,
            date=participant.screening_date,
            reason="転居のため",
            performed_by=japanese,
        )
    english = make_user("monitor", ["S01"], language="en")
    withdrawn = participant.status_changes.get(to_status="withdrawn")
    assert (withdrawn.reason, withdrawn.reason_code) == ("転居のため", "")
    assert "転居のため" in status_history(client_for(english), participant)


@pytest.mark.requirement("PROT-LANGUAGE")
def test_the_migration_gives_the_old_system_reasons_their_codes(
    site_a, make_user, client_for, coordinator_a
):
    participant = eligible_consented(site_a, coordinator_a)
    participant.status_changes.all().update(reason_code="", reason_params={})
    old = {
        "Both endpoints recorded": None,
        "無作為割付（割付番号 S01-R007）": None,
        "Eligibility assessed": None,
        "Moved to another city": None,
    }
    for reason in old:
        old[reason] = StatusChange.objects.create(
            participant=participant,
            from_status="randomized",
            to_status="completed",
            reason=reason,
            changed_by=coordinator_a,
        ).pk

    # Her data locked since: the codes are added all the same (they change no data).
    Lock.objects.create(
        scope="participant",
        study=site_a.study,
        participant=participant,
        locked_by=coordinator_a,
    )

    MIGRATION.reasons_to_codes(apps, None)

    def stored(reason):
        change = StatusChange.objects.get(pk=old[reason])
        return change.reason, change.reason_code, change.reason_params

    assert stored("Both endpoints recorded") == (
        "Both endpoints recorded",
        "both_endpoints_recorded",
        {},
    )
    assert stored("無作為割付（割付番号 S01-R007）") == (
        "無作為割付（割付番号 S01-R007）",
        "randomized",
        {"number": "S01-R007"},
    )
    assert stored("Eligibility assessed")[1] == "eligibility_assessed"
    assert stored("Moved to another city") == ("Moved to another city", "", {})
    japanese = make_user("coordinator", ["S01"], language="ja")
    shown = status_history(client_for(japanese), participant)
    assert "両評価項目を記録" in shown
    assert "Moved to another city" in shown
    english = make_user("monitor", ["S01"], language="en")
    assert "Randomized: S01-R007" in status_history(client_for(english), participant)


def test_the_migrations_texts_are_those_the_code_wrote_in_each_language():
    for code, (english, japanese) in MIGRATION.REASONS.items():
        with translation.override("en"):
            assert str(MESSAGES[code]) == english
        with translation.override("ja"):
            assert str(MESSAGES[code]) == japanese


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.parametrize(
    ("language", "statement"), [("en", "Currently pregnant"), ("ja", "現在妊娠中")]
)
def test_failed_criteria_are_named_in_words_in_the_readers_language(
    language, statement, site_a, coordinator_a, make_user, client_for
):
    participant = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    eligibility_record(
        participant=participant,
        answers={**ELIGIBLE_ANSWERS, "pregnant": True},
        performed_by=coordinator_a,
    )
    reader = client_for(make_user("monitor", ["S01"], language=language))
    html = reader.get(f"/participants/{participant.pk}/").content.decode()
    failed = html[html.index('id="failed-criteria"') :]
    failed = failed[: failed.index("</span>")]
    assert failed == f'id="failed-criteria">{statement}'
