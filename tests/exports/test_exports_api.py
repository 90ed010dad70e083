"""POST /api/v1/exports/ and GET /api/v1/exports/{id}/ (API contract, Core flow)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ecrf.accounts.models import SiteMembership
from ecrf.exports.models import ExportJob, ExportStatus
from ecrf.exports.services import export_request, export_run

from .conftest import lines_writer

pytestmark = pytest.mark.django_db

URL = "/api/v1/exports/"
JOB_FIELDS = {
    "id",
    "kind",
    "format",
    "status",
    "progress",
    "created_at",
    "finished_at",
    "expires_at",
    "checksum",
    "size",
    "chain_head",
    "download_url",
}


@pytest.fixture
def quick_format(register_format):
    register_format("audit_trail", "csv", lines_writer(20), extension=".csv")


@pytest.mark.requirement("API-EXPORT-CREATE")
def test_a_monitor_asks_and_gets_202_with_the_job(
    api_for, monitor_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_for(monitor_a).post(
            URL, {"kind": "audit_trail", "format": "csv"}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    job = ExportJob.objects.get()
    assert body["id"] == str(job.pk)
    assert body["status"] == "pending"
    assert body["progress"] == 0
    assert body["download_url"] is None
    assert set(body) >= JOB_FIELDS
    assert response["Location"].endswith(f"{URL}{job.pk}/")
    assert job.owner == monitor_a
    assert len(callbacks) == 1


@pytest.mark.requirement("API-EXPORT-CREATE", "API-EXPORT-STATUS", "CFR11-10B-ELECTRONIC")
def test_the_whole_flow_ask_poll_download(
    api_for, data_manager, participant_a, celery_eager, django_capture_on_commit_callbacks
):
    client = api_for(data_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL,
            {
                "kind": "audit_trail",
                "format": "csv",
                "site": "S01",
                "subject_id": participant_a.subject_id,
                "since": "2020-01-01",
                "until": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]

    status = client.get(f"{URL}{job_id}/")
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "done", body
    assert body["progress"] == 100
    assert body["site"] == "S01" and body["subject_id"] == participant_a.subject_id
    assert body["since"] == "2020-01-01"
    assert len(body["checksum"]) == 64 and len(body["chain_head"]) == 64
    assert body["download_url"] == f"http://testserver{URL}{job_id}/download/"
    for stamp in ("created_at", "finished_at", "expires_at"):
        assert dt.datetime.fromisoformat(body[stamp]).utcoffset() is not None

    download = client.get(body["download_url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == body["checksum"]
    assert len(content) == body["size"]
    assert download["Content-Type"].startswith("text/csv")
    assert download["X-Checksum-SHA256"] == body["checksum"]
    assert download["X-Audit-Chain-Head"] == body["chain_head"]
    assert "attachment" in download["Content-Disposition"]
    assert "TAC-RI_audit_trail_S01_" in download["Content-Disposition"]
    assert participant_a.subject_id.encode() in content


def test_the_download_answers_any_accept_header(api_for, monitor_a, quick_format):
    client = api_for(monitor_a)
    job_id = client.post(URL, {"kind": "audit_trail", "format": "csv"}, format="json").json()["id"]
    export_run(job_id=job_id)
    response = client.get(f"{URL}{job_id}/download/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"line 0")


@pytest.mark.requirement("API-EXPORT-CREATE")
@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_roles_that_may_not_export_get_403(role, api_for, make_user):
    client = api_for(make_user(role))
    response = client.post(URL, {"kind": "audit_trail", "format": "csv"}, format="json")
    assert response.status_code == 403
    assert "monitors" in response.json()["detail"]
    assert client.get(URL).status_code == 403
    assert not ExportJob.objects.exists()


def test_no_key_is_401():
    assert APIClient().post(URL, {"kind": "audit_trail", "format": "csv"}).status_code == 401
    assert APIClient().get(f"{URL}{uuid.uuid4()}/").status_code == 401


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"kind": "everything", "format": "csv"}, "kind", ["everything", "audit_trail"]),
        ({"format": "csv"}, "kind", []),
        ({"kind": "audit_trail", "format": "pdf"}, "format", ["pdf", "odm"]),
        ({"kind": "audit_trail", "format": "xpt"}, "format", ["xpt", "csv, odm"]),
        ({"kind": "audit_trail"}, "format", []),
        (
            {"kind": "audit_trail", "format": "csv", "since": "2026-03-10", "until": "2026-03-01"},
            "until",
            ["2026-03-01"],
        ),
        ({"kind": "audit_trail", "format": "csv", "since": "2026-13-01"}, "since", []),
        ({"kind": "audit_trail", "format": "csv", "until": "yesterday"}, "until", []),
        ({"kind": "audit_trail", "format": "odm", "until": "9999-12-31"}, "until", ["2999-12-31"]),
        ({"kind": "clinical_data", "format": "xpt", "since": "0001-01-01"}, "since", ["1900"]),
        ({"kind": "audit_trail", "format": "csv", "site": "S02"}, "site", ["S02"]),
        ({"kind": "audit_trail", "format": "csv", "site": "S99"}, "site", ["S99"]),
        ({"kind": "audit_trail", "format": "csv", "site": ["S01"]}, "site", []),
        ({"kind": "clinical_data", "format": "csv", "subject_id": "S02-001"}, "subject_id", []),
        ({"kind": "clinical_data", "format": "csv", "subject_id": "x" * 200}, "subject_id", []),
        ({"kind": 5, "format": None}, "format", []),
        ({"kind": "sdtm", "format": "csv"}, "format", ["dataset-json, xpt"]),
        ({"kind": "sdtm", "format": "xpt", "since": "2026-03-01"}, "since", ["whole casebooks"]),
    ],
)
@pytest.mark.requirement("API-EXPORT-CREATE")
def test_bad_input_is_400_naming_the_field(api_for, monitor_a, participant_b, body, field, words):
    response = api_for(monitor_a).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    for word in words:
        assert word in " ".join(errors[field]), errors
    assert not ExportJob.objects.exists()


def test_a_body_that_is_not_json_is_400(api_for, monitor_a):
    response = api_for(monitor_a).post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


@pytest.mark.requirement("API-EXPORT-STATUS", "CFR11-10D-ACCESS")
def test_another_users_export_is_404_everywhere(api_for, make_user, monitor_a, quick_format):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    for other in [
        make_user("monitor", ["S01"]),
        make_user("data_manager"),
        make_user("admin"),
        make_user("coordinator", ["S01"]),
    ]:
        client = api_for(other)
        assert client.get(f"{URL}{job.pk}/").status_code == 404
        assert client.get(f"{URL}{job.pk}/download/").status_code == 404
        if other.role != "coordinator":
            assert str(job.pk) not in client.get(URL).content.decode()
    owner = api_for(monitor_a)
    assert owner.get(f"{URL}{job.pk}/").status_code == 200
    assert owner.get(f"{URL}{uuid.uuid4()}/").status_code == 404
    assert owner.get(f"{URL}not-a-uuid/").status_code == 404
    assert owner.get(f"{URL}{'-' * 36}/").status_code == 404


def test_the_list_holds_her_own_exports_only(api_for, make_user, monitor_a):
    mine = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_request(performed_by=make_user("data_manager"), kind="audit_trail", format="csv")
    body = api_for(monitor_a).get(URL).json()
    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [str(mine.pk)]


def test_a_download_before_the_export_is_done_is_409(api_for, monitor_a):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    response = api_for(monitor_a).get(f"{URL}{job.pk}/download/")
    assert response.status_code == 409
    assert "not finished" in response.json()["detail"]


@pytest.mark.requirement("ICH-E6R3-4.2.7-RETENTION")
def test_a_download_after_expiry_is_410_with_a_clear_message(api_for, monitor_a, quick_format):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    client = api_for(monitor_a)
    response = client.get(f"{URL}{job.pk}/download/")
    assert response.status_code == 410
    assert "expired" in response.json()["detail"] and "new export" in response.json()["detail"]
    body = client.get(f"{URL}{job.pk}/").json()
    assert body["download_url"] is None
    assert body["checksum"]  # still says what was exported

    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.EXPIRED)
    assert client.get(f"{URL}{job.pk}/download/").status_code == 410


@pytest.mark.requirement("API-EXPORT-STATUS", "CFR11-10D-ACCESS")
@pytest.mark.parametrize("change", ["left_a_site", "no_longer_exports", "lists_now_concealed"])
def test_a_download_after_her_access_narrowed_is_403(
    change, api_for, client_for, make_user, site_b, quick_format
):
    role = "statistician" if change == "lists_now_concealed" else "monitor"
    owner = make_user(role, ["S01", "S02"] if role == "monitor" else [])
    job = export_request(performed_by=owner, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    url = f"{URL}{job.pk}/download/"
    assert api_for(owner).get(url).status_code == 200
    if change == "left_a_site":
        SiteMembership.objects.filter(user=owner, site=site_b).delete()
    else:
        type(owner).objects.filter(pk=owner.pk).update(
            role="coordinator" if change == "no_longer_exports" else "data_manager"
        )
    owner.refresh_from_db()
    refused = api_for(owner).get(url)
    assert refused.status_code == 403
    assert "Your access has changed since this export was made" in refused.json()["detail"]
    assert client_for(owner).get(f"/exports/{job.pk}/download/").status_code == 403


def test_a_finished_file_that_was_removed_is_410(api_for, monitor_a, quick_format, export_media):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    job.refresh_from_db()
    (export_media / job.file_name).unlink()
    assert api_for(monitor_a).get(f"{URL}{job.pk}/download/").status_code == 410


def test_writing_methods_on_a_job_are_not_allowed(api_for, monitor_a):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    client = api_for(monitor_a)
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{URL}{job.pk}/", {}, format="json").status_code == 405
    job.refresh_from_db()
    assert job.status == ExportStatus.PENDING


@pytest.mark.requirement("API-EXPORT-CREATE", "API-EXPORT-STATUS")
def test_the_schema_describes_the_export_endpoints(api_for, monitor_a):
    schema = api_for(monitor_a).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/exports/"])
    assert "get" in paths["/api/v1/exports/{id}/"]
    assert "get" in paths["/api/v1/exports/{id}/download/"]
    create = paths["/api/v1/exports/"]["post"]
    assert "202" in create["responses"]
    assert "403" in create["responses"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"kind", "format", "site", "subject_id", "since", "until"} <= set(request["properties"])
    # The archive is written in one format only, so the contract names none for it.
    assert set(request["required"]) == {"kind"}
    assert "archive: none" in request["properties"]["format"]["description"]
    ref = create["responses"]["202"]["content"]["application/json"]["schema"]["$ref"]
    job = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(job["properties"]) >= JOB_FIELDS
    assert "410" in paths["/api/v1/exports/{id}/download/"]["get"]["responses"]
