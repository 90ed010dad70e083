"""The exports page: ask for an export, watch its progress bar, download it."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, expect

from ecrf.exports.models import ExportJob, ExportStatus
from ecrf.exports.services import export_request, export_run
from tests.conftest import sign_in

from .conftest import lines_writer

pytestmark = pytest.mark.django_db

PAGE = "/exports/"


@pytest.fixture
def quick_format(register_format):
    register_format("audit_trail", "csv", lines_writer(20), extension=".csv")


def test_the_page_offers_the_form_with_only_her_sites(client_for, monitor_a, site_a, site_b):
    response = client_for(monitor_a).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="export-form"' in html
    assert f'<option value="{site_a.pk}">' in html
    assert f'<option value="{site_b.pk}">' not in html
    for kind in ("audit_trail", "clinical_data", "data_dictionary"):
        assert f'value="{kind}"' in html
    assert 'src="/static/js/exports.js"' in html
    assert "<script>" not in html  # the CSP allows no inline script
    assert "You have not exported anything yet." in html


@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_site_staff_get_403_and_no_menu_entry(role, client_for, make_user):
    client = client_for(make_user(role))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"kind": "audit_trail", "format": "csv"}).status_code == 403
    assert b'href="/exports/"' not in client.get("/").content
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician", "admin"])
def test_export_roles_find_it_in_the_menu(role, client_for, make_user):
    assert b'href="/exports/"' in client_for(make_user(role)).get("/").content


@pytest.mark.requirement("API-EXPORT-CREATE")
def test_asking_starts_an_export_and_lists_it(
    client_for, monitor_a, site_a, django_capture_on_commit_callbacks
):
    client = client_for(monitor_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            PAGE,
            {
                "kind": "audit_trail",
                "format": "csv",
                "site": site_a.pk,
                "subject_id": "",
                "since": "2026-01-01",
                "until": "2026-12-31",
            },
        )
    assert response.status_code == 302 and response["Location"] == PAGE
    job = ExportJob.objects.get()
    assert (job.owner, job.site, job.since, job.until) == (
        monitor_a,
        site_a,
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 31),
    )
    assert len(callbacks) == 1
    page = client.get(PAGE).content.decode()
    assert f'id="export-{job.pk}"' in page
    assert f'data-status-url="/exports/{job.pk}/status/"' in page
    assert 'role="progressbar"' in page and 'aria-valuenow="0"' in page
    assert "Export started" in page


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            {"kind": "audit_trail", "format": "csv", "since": "2026-03-10", "until": "2026-03-01"},
            "until",
            "before its start",
        ),
        ({"kind": "audit_trail", "format": "xpt"}, "format", "not a format of audit_trail"),
        ({"kind": "sdtm", "format": "xpt", "until": "2026-03-01"}, "until", "whole casebooks"),
        ({"kind": "sdtm", "format": "csv"}, "format", "dataset-json, xpt"),
        ({"kind": "nothing", "format": "csv"}, "kind", "Select a valid choice"),
        ({}, "kind", "required"),
        ({"kind": "audit_trail", "format": "csv", "since": "soon"}, "since", "valid date"),
        ({"kind": "audit_trail", "format": "csv", "site": "999999"}, "site", "valid choice"),
        (
            {"kind": "clinical_data", "format": "csv", "subject_id": "S02-001"},
            "subject_id",
            "No participant",
        ),
    ],
)
def test_bad_input_is_400_with_the_message_at_its_field(
    client_for, monitor_a, participant_b, data, field, words
):
    response = client_for(monitor_a).post(PAGE, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert words in " ".join(form.errors[field])
    assert words in unescape(response.content.decode())
    assert not ExportJob.objects.exists()


@pytest.mark.requirement("API-EXPORT-STATUS")
def test_the_status_endpoint_answers_its_owner_in_json(client_for, monitor_a, quick_format):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    client = client_for(monitor_a)
    pending = client.get(f"/exports/{job.pk}/status/").json()
    assert pending["status"] == "pending" and pending["progress"] == 0
    assert pending["download_url"] is None

    export_run(job_id=job.pk)
    job.refresh_from_db()
    done = client.get(f"/exports/{job.pk}/status/").json()
    assert done["status"] == "done" and done["progress"] == 100
    assert done["checksum"] == job.checksum
    assert done["download_url"] == f"/exports/{job.pk}/download/"
    assert done["size_label"] and done["expires_label"]
    assert done["expires_at"] == timezone.localtime(job.expires_at).isoformat(timespec="seconds")


def test_the_owner_downloads_the_file_with_its_checksum(client_for, monitor_a, quick_format):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    job.refresh_from_db()
    client = client_for(monitor_a)
    html = client.get(PAGE).content.decode()
    assert job.checksum in html
    assert f'href="/exports/{job.pk}/download/"' in html
    response = client.get(f"/exports/{job.pk}/download/")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == job.checksum
    assert response["X-Checksum-SHA256"] == job.checksum


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_nobody_else_sees_or_downloads_her_export(client_for, make_user, monitor_a, quick_format):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    for other in [make_user("monitor", ["S01"]), make_user("admin"), make_user("coordinator")]:
        client = client_for(other)
        assert client.get(f"/exports/{job.pk}/status/").status_code == 404
        assert client.get(f"/exports/{job.pk}/download/").status_code == 404
        if other.role != "coordinator":
            assert str(job.pk) not in client.get(PAGE).content.decode()


@pytest.mark.requirement("ICH-E6R3-4.2.7-RETENTION")
def test_an_expired_download_is_410_with_a_clear_page(client_for, monitor_a, quick_format):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    client = client_for(monitor_a)
    response = client.get(f"/exports/{job.pk}/download/")
    assert response.status_code == 410
    assert b"expired" in response.content and b"Ask for a new export" in response.content
    html = client.get(PAGE).content.decode()
    assert f'href="/exports/{job.pk}/download/"' not in html
    assert "Expired on" in html


def test_a_failed_export_shows_why(client_for, monitor_a, register_format):
    register_format("audit_trail", "csv", lines_writer(5, fail_after=2))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    html = client_for(monitor_a).get(PAGE).content.decode()
    assert "The export stopped with an error (RuntimeError)" in html
    assert ExportJob.objects.get().status == ExportStatus.FAILED


def test_the_list_page_query_count_does_not_grow_with_exports(
    client_for, monitor_a, site_a, django_assert_max_num_queries
):
    client = client_for(monitor_a)
    export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site=site_a)
    client.get(PAGE)
    with django_assert_max_num_queries(40) as few:
        client.get(PAGE)
    for _ in range(10):
        export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site=site_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(PAGE)


def test_admins_see_every_export_started_in_the_admin(client_for, make_user, monitor_a):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    response = client_for(make_user("admin")).get("/admin/exports/exportjob/")
    assert response.status_code == 200
    assert f"/admin/exports/exportjob/{job.pk}/change/" in response.content.decode()
    assert b"monitor_a" in response.content or monitor_a.printed_name.encode() in response.content
    detail = client_for(make_user("admin")).get(f"/admin/exports/exportjob/{job.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # read-only


# -- in a real browser ----------------------------------------------------------------


@pytest.mark.requirement("API-EXPORT-STATUS")
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_progress_bar_moves_and_the_download_appears(
    browser: Browser, live_server: Any, monitor_a, quick_format
):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, progress=10)
    client = sign_in(Client(), monitor_a)
    context = browser.new_context(locale="en-US")
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": live_server.url,
            }
        ]
    )
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}{PAGE}")
        row = page.locator(f"#export-{job.pk}")
        bar = row.locator("[role=progressbar]")
        expect(bar).to_have_attribute("aria-valuenow", "10")
        expect(row.locator("[data-field=download_url]")).to_be_hidden()

        ExportJob.objects.filter(pk=job.pk).update(progress=60)
        expect(bar).to_have_attribute("aria-valuenow", "60", timeout=5_000)
        expect(bar).to_have_text("60%")
        assert re.search(r"width:\s*60%", bar.get_attribute("style") or "")

        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.PENDING, progress=0)
        export_run(job_id=job.pk)
        job.refresh_from_db()
        expect(bar).to_have_attribute("aria-valuenow", "100", timeout=5_000)
        link = row.locator("[data-field=download_url]")
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", f"/exports/{job.pk}/download/")
        expect(row.locator("[data-field=checksum]")).to_have_text(job.checksum)
        expect(row.locator("[data-field=status_label]")).to_have_text("Done")
        with page.expect_download() as download_info:
            link.click()
        data = Path(download_info.value.path()).read_bytes()
        assert hashlib.sha256(data).hexdigest() == job.checksum
    finally:
        context.close()
    assert errors == []


def test_the_page_renders_for_a_japanese_user(client_for, make_user):
    user = make_user("data_manager", language="ja")
    export_request(performed_by=user, kind="data_dictionary", format="csv")
    response = client_for(user).get(PAGE)
    assert response.status_code == 200
    assert b'<html lang="ja">' in response.content
    assert b'role="progressbar"' in response.content
