"""The coordinator's home keeps what she still has to complete: adverse events to follow
to their outcome, and the forms whose edit checks left a finding open."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from ecrf.safety.services import adverse_event_record

from ..clock import at
from ..endpoints.test_edit_check_findings import put

pytestmark = pytest.mark.django_db


def _section(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match, table_id
    return match.group(0)


def _event(participant, coordinator, term, outcome, end_date=None):
    return adverse_event_record(
        participant=participant,
        term=term,
        onset_date=dt.date(2026, 3, 2),
        end_date=end_date,
        ctcae_grade=1,
        serious=False,
        related=False,
        outcome=outcome,
        performed_by=coordinator,
    )


@pytest.mark.requirement("PROT-AE-RECORD")
def test_ongoing_adverse_events_stay_on_her_home_until_their_outcome(
    client_for, coordinator_a, transferred
):
    with at("2026-03-05"):
        ongoing = _event(transferred, coordinator_a, "Headache", "recovering")
        closed = _event(
            transferred, coordinator_a, "Nausea", "recovered", end_date=dt.date(2026, 3, 3)
        )
        html = client_for(coordinator_a).get("/").content.decode()
    table = _section(html, "adverse-events-to-complete")
    assert f'data-ae="{ongoing.pk}"' in table and "Headache" in table
    assert f'data-ae="{closed.pk}"' not in table


@pytest.mark.requirement("PROT-EDIT-CHECKS", "PROT-LANGUAGE")
@pytest.mark.parametrize(("language", "words"), [("en", "Biochemical"), ("ja", "生化学的妊娠")])
def test_a_form_with_an_open_finding_is_listed_by_label_in_her_language(
    client_for, api_for, make_user, coordinator_a, transferred, language, words
):
    with at("2026-03-18"):
        saved = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-18",
            serum_hcg_miu_ml=120,
            result="positive",
        )
        assert saved.status_code == 200, saved.json()
        reader = make_user("coordinator", ["S01"], language=language)
        html = client_for(reader).get("/").content.decode()
    table = _section(html, "forms-with-findings")
    assert f"/participants/{transferred.pk}/endpoints/biochemical_pregnancy/" in table
    assert words in table
    assert "assessment_outside_window" not in table and "assessed_on" not in table
