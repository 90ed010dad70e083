"""Safety labs and vital signs at screening and ET+14, judged by the site's normal ranges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ecrf.labs.models import LabResult, NormalRange

pytestmark = pytest.mark.django_db


def post(client, participant, **data):
    return client.post(f"/participants/{participant.pk}/labs/", data)


@pytest.mark.requirement("PROT-LABS")
def test_setup_gives_every_site_its_normal_ranges(study):
    assert NormalRange.objects.filter(site__code="S01").count() == 6


@pytest.mark.requirement("PROT-LABS")
def test_a_value_out_of_the_sites_range_is_flagged(client_for, coordinator_a, participant_a):
    client = client_for(coordinator_a)
    day = participant_a.screening_date.isoformat()
    assert (
        post(
            client,
            participant_a,
            visit="screening",
            analyte="potassium",
            measured_on=day,
            value="5.6",
        ).status_code
        == 302
    )
    assert (
        post(
            client,
            participant_a,
            visit="screening",
            analyte="creatinine",
            measured_on=day,
            value="0.6",
        ).status_code
        == 302
    )
    potassium, creatinine = (LabResult.objects.get(analyte=a) for a in ("potassium", "creatinine"))
    assert potassium.out_of_range and potassium.unit == "mmol/L"
    assert not creatinine.out_of_range
    page = client.get(f"/participants/{participant_a.pk}/labs/").content.decode()
    assert "out of range" in page.split('data-analyte="potassium"')[1].split("</tr>")[0]


@pytest.mark.requirement("PROT-LABS")
def test_ranges_are_per_site(client_for, coordinator_a, participant_a):
    NormalRange.objects.filter(site__code="S01", analyte="glucose").update(high=Decimal("140"))
    post(
        client_for(coordinator_a),
        participant_a,
        visit="screening",
        analyte="glucose",
        measured_on=participant_a.screening_date.isoformat(),
        value="120",
    )
    assert not LabResult.objects.get().out_of_range


@pytest.mark.requirement("PROT-LABS", "CFR11-10A-INVALID")
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"value": "-1"}, "value"),
        ({"value": "abc"}, "value"),
        ({"analyte": "cholesterol"}, "analyte"),
        ({"measured_on": "2099-01-01"}, "measured_on"),
    ],
)
def test_bad_values_are_refused(client_for, coordinator_a, participant_a, data, field):
    base = {
        "visit": "screening",
        "analyte": "potassium",
        "measured_on": participant_a.screening_date.isoformat(),
        "value": "4.0",
    }
    response = post(client_for(coordinator_a), participant_a, **{**base, **data})
    assert response.status_code == 400
    assert not LabResult.objects.exists()


@pytest.mark.requirement("PROT-LABS", "CFR11-10E-CONTENT")
def test_a_correction_needs_a_reason(client_for, coordinator_a, participant_a):
    client = client_for(coordinator_a)
    base = {
        "visit": "screening",
        "analyte": "magnesium",
        "measured_on": participant_a.screening_date.isoformat(),
    }
    post(client, participant_a, **base, value="2.0")
    refused = post(client, participant_a, **base, value="2.1")
    assert refused.status_code == 400 and b"A reason for change is required" in refused.content
    post(client, participant_a, **base, value="2.1", reason="Transcription")
    assert LabResult.objects.get().value == Decimal("2.1")


@pytest.mark.requirement("PROT-LABS", "CFR11-10G-AUTHORITY")
def test_only_site_staff_enter_labs(client_for, make_user, participant_a):
    response = post(
        client_for(make_user("monitor", ["S01"])),
        participant_a,
        visit="screening",
        analyte="potassium",
        measured_on=dt.date.today().isoformat(),
        value="4",
    )
    assert response.status_code == 403
