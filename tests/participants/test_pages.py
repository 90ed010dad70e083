"""Participant pages: screening log, registration, correction with reason, history."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrf.participants.models import Participant

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("PROT-SCREEN-LOG")
def test_coordinator_registers_from_the_screening_form(client_for, coordinator_a, site_a):
    response = client_for(coordinator_a).post(
        "/participants/new/",
        {"site": site_a.pk, "screening_date": "2026-11-01", "birth_date": "1990-01-01"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"S01-001" in response.content


@pytest.mark.requirement("PROT-SCREEN-LOG", "CFR11-10A-INVALID")
def test_screening_form_refuses_a_future_screening_date(client_for, coordinator_a, site_a):
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    response = client_for(coordinator_a).post(
        "/participants/new/",
        {"site": site_a.pk, "screening_date": tomorrow.isoformat(), "birth_date": "1990-01-01"},
    )
    assert response.status_code == 400
    assert b"cannot be in the future" in response.content
    assert Participant.objects.count() == 0


@pytest.mark.requirement("PROT-SCREEN-LOG")
def test_subject_numbers_are_never_reused(client_for, coordinator_a, site_a):
    client = client_for(coordinator_a)
    for _ in range(2):
        client.post(
            "/participants/new/",
            {"site": site_a.pk, "screening_date": "2026-11-01", "birth_date": "1990-01-01"},
        )
    Participant.objects.filter(subject_id="S01-002").update(status="screen_failed")
    client.post(
        "/participants/new/",
        {"site": site_a.pk, "screening_date": "2026-11-01", "birth_date": "1990-01-01"},
    )
    assert list(
        Participant.objects.values_list("subject_id", flat=True).order_by("subject_number")
    ) == ["S01-001", "S01-002", "S01-003"]


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
@pytest.mark.parametrize(
    "role", ["investigator", "monitor", "data_manager", "statistician", "admin"]
)
def test_only_coordinators_register_participants(role, make_user, client_for):
    assert client_for(make_user(role)).get("/participants/new/").status_code == 403


@pytest.mark.requirement(
    "CFR11-10E-CONTENT",
    "CFR11-10E-NOT-OBSCURE",
    "CFR11-10E-REVIEW",
    "CFR11-10B-READABLE",
    "ICH-E6R3-4.2.2-CHANGES",
    "ICH-E6R3-4.2.2-INTERPRETABLE",
    "ICH-E6R3-4.2.4-CORRECTIONS",
)
def test_correction_without_reason_is_refused_and_with_reason_is_in_the_history(
    client_for, coordinator_a, participant_a, make_user
):
    client = client_for(coordinator_a)
    url = f"/participants/{participant_a.pk}/edit/"
    data = {"screening_date": participant_a.screening_date.isoformat(), "birth_date": "1990-06-01"}
    refused = client.post(url, {**data, "reason": ""})
    assert refused.status_code == 400
    assert b"A reason for change is required" in refused.content
    assert client.post(url, {**data, "reason": "Checked against the ID card"}).status_code == 302

    monitor = make_user("monitor", ["S01"])
    history = client_for(monitor).get(f"/participants/{participant_a.pk}/history/")
    html = history.content.decode()
    assert history.status_code == 200
    assert "Checked against the ID card" in html
    assert "1990-05-17" in html and "1990-06-01" in html
    assert coordinator_a.username in html


@pytest.mark.requirement("PROT-SCREEN-LOG")
def test_list_filters_by_status_and_search(client_for, make_user, participant_a, participant_b):
    client = client_for(make_user("data_manager"))
    assert b"S02-001" not in client.get("/participants/?site=S01").content
    assert b"S01-001" in client.get("/participants/?q=01-00").content
    assert b"S01-001" not in client.get("/participants/?status=randomized").content


@pytest.mark.parametrize("role", ["coordinator", "monitor", "data_manager"])
def test_home_page_of_each_role(role, make_user, client_for, participant_a):
    response = client_for(make_user(role)).get("/")
    assert response.status_code == 200
    assert b"S01" in response.content


garbage = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "0000-00-00", "2026-02-30", "31/12/1990", "'; DROP TABLE x;--", "<script>", "1e309"]
    ),
)


@pytest.mark.requirement("CFR11-10A-INVALID", "ICH-E6R3-4.3.3-HOSTILE")
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(site=garbage, screening_date=garbage, birth_date=garbage)
def test_garbage_in_every_field_gives_a_form_error_never_a_500(
    client_for, coordinator_a, site, screening_date, birth_date
):
    before = Participant.objects.count()
    response = client_for(coordinator_a).post(
        "/participants/new/",
        {"site": site, "screening_date": screening_date, "birth_date": birth_date},
    )
    assert response.status_code == 400
    assert Participant.objects.count() == before


@pytest.mark.requirement("API-CONV-400-FIELDS", "ICH-E6R3-4.3.3-HOSTILE")
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(["site", "screening_date", "birth_date", "extra"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=30),
            st.lists(st.integers(), max_size=3),
            st.booleans(),
        ),
    )
)
def test_garbage_json_gives_a_400_never_a_500(api_for, coordinator_a, payload):
    before = Participant.objects.count()
    response = api_for(coordinator_a).post("/api/v1/participants/", payload, format="json")
    assert response.status_code in {201, 400}
    if response.status_code == 400:
        assert Participant.objects.count() == before
        assert isinstance(response.json(), dict)


def test_coordinator_home_lists_each_participants_next_step(
    client_for, coordinator_a, ready_participant, participant_a
):
    ready = ready_participant()
    html = client_for(coordinator_a).get("/").content.decode()
    worklist = html.split('id="worklist"')[1].split("</table>")[0]
    assert participant_a.subject_id in worklist and "Assess eligibility" in worklist
    assert ready.subject_id in worklist and "Randomize" in worklist
