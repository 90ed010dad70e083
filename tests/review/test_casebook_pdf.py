"""The PDF casebook: read back with pypdf, every value, mark, query, change and signature
is there in the reader's language, with the subject ID and "Page N of M" on every page."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pypdf
import pytest
from django.test import RequestFactory
from django.utils import translation

from ecrf.exports.formats.base import ExportScope
from ecrf.exports.models import ExportJob
from ecrf.quality.services import signature_sign, verification_mark
from ecrf.queries.services import query_open, query_respond
from ecrf.review.casebook import casebook_of, casebook_pdf, write_casebook_pdf
from tests.clock import at
from tests.exports.test_clinical_exports import Trial, trial  # noqa: F401
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

CHAIN_HEAD = "ab" * 32


@pytest.fixture
def signed(trial: Trial, make_user: Any, coordinator_a: Any) -> dict[str, Any]:  # noqa: F811
    """Her casebook verified in part, queried and answered, and signed."""
    monitor = make_user("monitor", ["S01"], username="mona")
    investigator = make_user("investigator", ["S01"], printed_name="Ichiro Tanaka")
    with at("2026-03-23"):
        verification_mark(participant=trial.a, record="consent", performed_by=monitor)
        query = query_open(
            participant=trial.a,
            record="biochemical_pregnancy",
            field="serum_hcg_miu_ml",
            text="Please confirm the hCG value against the laboratory report.",
            performed_by=monitor,
        )
        query_respond(
            query=query,
            text="Confirmed: 250.5 as on the report.",
            performed_by=coordinator_a,
        )
        signature_sign(
            participant=trial.a,
            password=PASSWORD,
            meaning="I approve this casebook as complete and accurate.",
            performed_by=investigator,
            request=RequestFactory().post("/"),
        )
    trial.a.refresh_from_db()
    return {"trial": trial, "monitor": monitor, "investigator": investigator}


def pages_of(document: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(document))
    return [page.extract_text() for page in reader.pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def printed(reader: Any, participant: Any) -> bytes:
    """Her casebook as ``reader`` has it printed, in the active language."""
    return casebook_pdf(
        casebook_of(
            reader,
            participant,
            chain_head=CHAIN_HEAD,
            printed_at=dt.datetime(2026, 3, 24, 1, 0, tzinfo=dt.UTC),
        )
    )


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_page_names_the_subject_and_counts_pages(signed, language):
    participant = signed["trial"].a
    with translation.override(language):
        document = printed(signed["monitor"], participant)
    pages = pages_of(document)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert participant.subject_id in text, number
        if language == "en":
            assert f"Page {number} of {len(pages)}" in flat(text), number
        else:
            assert f"ページ {number} / {len(pages)}" in flat(text), number


def test_the_casebook_holds_values_marks_queries_trail_and_signature(signed):
    participant = signed["trial"].a
    with translation.override("en"):
        text = flat(" ".join(pages_of(printed(signed["monitor"], participant))))
    for expected in (
        CHAIN_HEAD,
        "TAC-RI",
        "Consent date",
        "2026-02-18",
        "Serum hCG (mIU/mL)",
        "250.50",
        "Verified: mona",
        "Please confirm the hCG value against the laboratory report.",
        "Confirmed: 250.5 as on the report.",
        "Transfer performed",
        "Ichiro Tanaka",
        "I approve this casebook as complete and accurate.",
        "Blastocyst",
        "Audit trail",
    ):
        assert expected in text, expected
    assert f"Status {participant.get_status_display()}" in text
    arm = participant.allocation.arm
    assert f"Arm {arm.name_en}" in text


def test_the_japanese_casebook_is_in_japanese(signed):
    participant = signed["trial"].a
    with translation.override("ja"):
        text = flat(" ".join(pages_of(printed(signed["monitor"], participant))))
        consent_label = str(participant.consent._meta.get_field("consent_date").verbose_name)
    assert consent_label in text.replace(" ", "") or consent_label in text
    assert "監査証跡" in text
    assert "Please confirm the hCG value" in text


def test_a_reader_the_study_blinds_gets_no_arm(signed, make_user, settings):
    study = signed["trial"].study
    study.blinded = True
    study.blinded_roles = ["monitor"]
    type(study).objects.filter(pk=study.pk).update(blinded=True, blinded_roles=["monitor"])
    participant = signed["trial"].a
    participant.refresh_from_db()
    with translation.override("en"):
        text = flat(" ".join(pages_of(printed(signed["monitor"], participant))))
    assert "Low dose" not in text and "2 mg/day" not in text
    assert "Not shown" in text
    # the dose of an intake and the capsules counted tell the arm: neither is printed
    assert "Dose (mg)" not in text and "Capsules dispensed" not in text
    assert "Dose diary entry" in text


def test_the_export_job_prints_her_casebook_for_whoever_asked(signed):
    participant = signed["trial"].a
    out = io.BytesIO()
    calls: list[tuple[int, int]] = []
    with translation.override("en"):
        write_casebook_pdf(
            ExportScope(
                study_id=signed["trial"].study.pk,
                site_ids=(signed["trial"].site_a.pk,),
                subject_id=participant.subject_id,
                requested_by_id=signed["monitor"].pk,
            ),
            out,
            progress=lambda done, total: calls.append((done, total)),
            chain_head=CHAIN_HEAD,
        )
    assert out.getvalue().startswith(b"%PDF")
    assert CHAIN_HEAD in flat(" ".join(pages_of(out.getvalue())))
    assert calls[-1] == (2, 2)


def test_the_participant_page_asks_for_the_casebook_as_an_export(
    signed, client_for, coordinator_a, celery_eager, django_capture_on_commit_callbacks
):
    participant = signed["trial"].a
    page = f"/participants/{participant.pk}/"
    assert 'id="casebook-pdf"' not in client_for(coordinator_a).get(page).content.decode()
    client = client_for(signed["monitor"])
    assert 'id="casebook-pdf"' in client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exports/",
            {"kind": "casebook", "format": "pdf", "subject_id": participant.subject_id},
        )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.kind, job.status, job.subject_id) == ("casebook", "done", participant.subject_id)
    download = client.get(f"/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")


def test_a_casebook_without_a_participant_is_refused_at_its_field(signed, client_for):
    response = client_for(signed["monitor"]).post(
        "/exports/", {"kind": "casebook", "format": "pdf"}
    )
    assert response.status_code == 400
    assert "subject_id" in response.context["form"].errors
