"""The site archive: a signed, time-stamped certified copy that verify_archive checks
offline, naming whatever was altered, added or forged."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from ecrf.audit import anchor
from ecrf.exports.models import ExportJob, ExportStatus
from ecrf.exports.selectors import export_path
from ecrf.exports.services import export_request, export_run
from tests.exports.test_clinical_exports import Trial, trial  # noqa: F401
from tests.tsa import LoopbackTSA

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("API-EXPORT-ARCHIVE")]


@pytest.fixture
def archive(trial: Trial, anchored: LoopbackTSA, monitor_a) -> Path:  # noqa: F811
    job = export_request(performed_by=monitor_a, kind="archive", format="zip")
    assert export_run(job_id=job.pk) == ExportStatus.DONE, ExportJob.objects.get(pk=job.pk).error
    job.refresh_from_db()
    assert job.site.code == "S01"
    return export_path(job)


@pytest.fixture
def monitor_a(make_user):
    return make_user("monitor", ["S01"], username="monitor_arch")


def rewritten(path: Path, tmp_path: Path, changes: dict[str, bytes | None]) -> Path:
    """A copy of the archive with some members replaced (``None``: removed) or added."""
    copy = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for name in source.namelist():
            if name in changes:
                if changes[name] is not None:
                    target.writestr(name, changes[name])
                continue
            target.writestr(name, source.read(name))
        for name, data in changes.items():
            if name not in source.namelist() and data is not None:
                target.writestr(name, data)
    return copy


def test_the_archive_holds_the_sites_copy_and_verifies(archive, trial, capsys):  # noqa: F811
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        manifest = json.loads(zipped.read("manifest.json"))
        assert zipped.read("casebooks/S01-001.pdf").startswith(b"%PDF-")
        with zipfile.ZipFile(io.BytesIO(zipped.read("data/sdtm_dataset_json.zip"))) as sdtm:
            dm = json.loads(sdtm.read("dm.json"))
            assert {row[3] for row in dm["rows"]} == {"S01-001"}
    assert {
        "casebooks/S01-001.pdf",
        "data/clinical_data_csv.zip",
        "data/sdtm_dataset_json.zip",
        "audit/audit_trail.csv",
        "audit/audit_trail_odm.xml",
        "queries/query_threads.csv",
        "manifest.json",
        "manifest.json.sig",
        "manifest.json.tsr",
        "public_key.pem",
    } == names
    assert not [n for n in names if "S02" in n]
    assert manifest["site"] == "S01" and manifest["made_by"] == "monitor_arch"
    assert len(manifest["audit_chain_head"]) == 64
    assert {f["name"] for f in manifest["files"]} == names - {
        "manifest.json",
        "manifest.json.sig",
        "manifest.json.tsr",
        "public_key.pem",
    }
    call_command("verify_archive", str(archive))
    said = capsys.readouterr().out
    assert "Archive intact: 6 files" in said
    assert anchor.installation_key()[1] in said


def test_an_altered_or_added_file_is_named(archive, tmp_path):
    altered = rewritten(archive, tmp_path, {"audit/audit_trail.csv": b"timestamp,user\n"})
    with pytest.raises(CommandError, match=r"audit/audit_trail\.csv: its SHA-256"):
        call_command("verify_archive", str(altered))
    added = rewritten(archive, tmp_path, {"casebooks/S01-999.pdf": b"%PDF-1.7"})
    with pytest.raises(CommandError, match=r"casebooks/S01-999\.pdf: not listed"):
        call_command("verify_archive", str(added))
    removed = rewritten(archive, tmp_path, {"queries/query_threads.csv": None})
    with pytest.raises(CommandError, match=r"query_threads\.csv: listed in the manifest"):
        call_command("verify_archive", str(removed))


def test_a_forged_signature_or_time_stamp_is_refused(archive, tmp_path):
    with zipfile.ZipFile(archive) as zipped:
        manifest = zipped.read("manifest.json")
    forger = Ed25519PrivateKey.generate()
    forged = rewritten(
        archive,
        tmp_path,
        {
            "manifest.json": manifest.replace(b'"site": "S01"', b'"site": "S02"'),
        },
    )
    with pytest.raises(CommandError, match="signature of the manifest does not hold"):
        call_command("verify_archive", str(forged))
    resigned = rewritten(
        archive,
        tmp_path,
        {
            "manifest.json.sig": base64.b64encode(forger.sign(manifest)),
            "public_key.pem": anchor.public_key_pem(forger).encode(),
        },
    )
    with zipfile.ZipFile(archive) as zipped:
        installation_key = tmp_path / "installation.pem"
        installation_key.write_bytes(zipped.read("public_key.pem"))
    with pytest.raises(CommandError, match="not the installation's public key"):
        call_command("verify_archive", str(resigned), "--public-key", str(installation_key))
    with LoopbackTSA() as stranger:
        foreign = anchor.timestamp(manifest, url=stranger.url)
    restamped = rewritten(archive, tmp_path, {"manifest.json.tsr": foreign.response})
    with pytest.raises(CommandError, match="time stamp of the manifest does not hold"):
        call_command("verify_archive", str(restamped))


def test_an_authority_that_is_down_fails_the_archive_with_its_reason(
    trial,  # noqa: F811
    anchored,
    monitor_a,
    settings,
):
    settings.TSA_URL = "http://127.0.0.1:9/tsa"
    job = export_request(performed_by=monitor_a, kind="archive", format="zip")
    assert export_run(job_id=job.pk) == ExportStatus.FAILED
    job.refresh_from_db()
    assert "time-stamping authority" in job.error


def test_the_api_takes_an_archive_without_a_format_and_asks_which_site(
    trial,  # noqa: F811
    api_for,
    monitor_a,
    make_user,
):
    response = api_for(monitor_a).post("/api/v1/exports/", {"kind": "archive"}, format="json")
    assert response.status_code == 202, response.json()
    assert (response.json()["format"], response.json()["site"]) == ("zip", "S01")
    data_manager = make_user("data_manager", username="dm_arch")
    refused = api_for(data_manager).post("/api/v1/exports/", {"kind": "archive"}, format="json")
    assert refused.status_code == 400
    assert "site" in refused.json()
    missing = api_for(data_manager).post("/api/v1/exports/", {"kind": "sdtm"}, format="json")
    assert missing.status_code == 400 and "format" in missing.json()
