"""Edit-check findings and their auto-queries are kept per form, field and check."""

from __future__ import annotations

import pytest

from ecrf.endpoints.models import EditCheckFinding
from ecrf.queries.models import Query

from ..clock import at

pytestmark = pytest.mark.django_db

OUTSIDE = "assessment_outside_window"


def put(api, participant, record, **body):
    return api.put(f"/api/v1/participants/{participant.pk}/{record}/", body, format="json")


def _both_forms_out_of_window(api, participant):
    with at("2026-03-18"):
        biochemical = put(
            api,
            participant,
            "biochemical-pregnancy",
            assessed_on="2026-03-18",
            serum_hcg_miu_ml=120,
            result="positive",
        )
    with at("2026-04-20"):
        clinical = put(
            api,
            participant,
            "clinical-pregnancy",
            assessed_on="2026-04-20",
            transvaginal_ultrasound=True,
            gestational_sac_seen=True,
            number_of_sacs=1,
            fetal_heartbeat=True,
            ectopic_pregnancy=False,
            result="positive",
        )
    return biochemical, clinical


@pytest.mark.requirement("PROT-EDIT-CHECKS")
def test_the_clinical_forms_confirmed_warning_opens_its_own_finding_and_query(
    api_for, coordinator_a, transferred
):
    biochemical, clinical = _both_forms_out_of_window(api_for(coordinator_a), transferred)
    assert biochemical.status_code == 200, biochemical.json()
    assert clinical.status_code == 200, clinical.json()
    assert [w["code"] for w in clinical.json()["warnings"]] == [OUTSIDE]
    open_findings = EditCheckFinding.objects.filter(code=OUTSIDE, resolved_at__isnull=True)
    assert sorted(open_findings.values_list("record", "field")) == [
        ("biochemical_pregnancy", "assessed_on"),
        ("clinical_pregnancy", "assessed_on"),
    ]
    assert sorted(Query.objects.filter(edit_check=OUTSIDE).values_list("record", "field")) == [
        ("biochemical_pregnancy", "assessed_on"),
        ("clinical_pregnancy", "assessed_on"),
    ]


@pytest.mark.requirement("PROT-EDIT-CHECKS")
def test_correcting_one_form_resolves_only_that_forms_finding(api_for, coordinator_a, transferred):
    api = api_for(coordinator_a)
    _both_forms_out_of_window(api, transferred)
    with at("2026-04-20"):
        corrected = put(
            api,
            transferred,
            "clinical-pregnancy",
            assessed_on="2026-03-22",
            transvaginal_ultrasound=True,
            gestational_sac_seen=True,
            number_of_sacs=1,
            fetal_heartbeat=True,
            ectopic_pregnancy=False,
            result="positive",
            reason="Date transcribed wrongly",
        )
    assert corrected.status_code == 200, corrected.json()
    still_open = EditCheckFinding.objects.filter(code=OUTSIDE, resolved_at__isnull=True)
    assert list(still_open.values_list("record", flat=True)) == ["biochemical_pregnancy"]
    resolved = EditCheckFinding.objects.get(code=OUTSIDE, record="clinical_pregnancy")
    assert resolved.resolved_at is not None


@pytest.mark.requirement("PROT-EDIT-CHECKS")
def test_saving_the_same_form_again_keeps_one_open_finding(api_for, coordinator_a, transferred):
    api = api_for(coordinator_a)
    _both_forms_out_of_window(api, transferred)
    with at("2026-04-20"):
        put(
            api,
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-18",
            serum_hcg_miu_ml=121,
            result="positive",
            reason="Lab report corrected",
        )
    assert EditCheckFinding.objects.filter(code=OUTSIDE, resolved_at__isnull=True).count() == 2
    assert Query.objects.filter(edit_check=OUTSIDE).count() == 2
