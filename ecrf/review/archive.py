"""A site's archive at close-out: its certified copy, signed and time-stamped.

One zip holding, for one site:

- ``casebooks/<subject>.pdf``: every participant's casebook (:mod:`.casebook`);
- ``data/clinical_data_csv.zip`` and ``data/sdtm_dataset_json.zip``: the data;
- ``audit/audit_trail.csv`` and ``audit/audit_trail_odm.xml``: the audit trail;
- ``queries/query_threads.csv``: every query with every step of its thread;
- ``manifest.json``: each file with its SHA-256 and size, the audit chain's head, who
  made the archive and when; ``manifest.json.sig``, the installation's Ed25519
  signature of the manifest (base64); ``manifest.json.tsr``, an RFC 3161 time-stamp
  token over it; ``public_key.pem``, the key that verifies the signature.

Every part is written from the export's one database snapshot. ``python manage.py
verify_archive FILE`` checks every hash, the signature and the stamp, offline, and names
whatever fails (:func:`archive_verify`).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from cryptography import x509
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ecrf.accounts.models import User
from ecrf.audit import anchor
from ecrf.exports.exceptions import ExportRefused
from ecrf.exports.formats.audit import write_audit_csv
from ecrf.exports.formats.clinical import write_clinical_csv
from ecrf.exports.formats.odm import write_audit_odm
from ecrf.exports.sdtm.package import write_sdtm_dataset_json
from ecrf.exports.services import HashingWriter
from ecrf.participants.models import Participant
from ecrf.queries.models import Query
from ecrf.studies.models import Site

from .casebook import Casebook, casebook_of, casebook_pdf

if TYPE_CHECKING:
    from ecrf.exports.formats.base import ExportScope, Progress

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
TIMESTAMP = "manifest.json.tsr"
PUBLIC_KEY = "public_key.pem"
#: The archive's own files, which the manifest does not list.
ANCHOR_FILES = frozenset({MANIFEST, SIGNATURE, TIMESTAMP, PUBLIC_KEY})
ARCHIVE_FORMAT = "ecrf-site-archive/1"

QUERY_COLUMNS = (
    "subject_id",
    "query",
    "form",
    "record_id",
    "field",
    "status",
    "step",
    "text",
    "by",
    "at",
)


def _no_progress(done: int, total: int) -> None:
    return None


class _Entries:
    """The files written into the zip, each hashed as it is written."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.files: list[dict[str, Any]] = []

    def add(self, name: str, write: Callable[[BinaryIO], None]) -> None:
        with self.archive.open(name, "w", force_zip64=True) as raw:
            hasher = HashingWriter(raw)  # type: ignore[arg-type]
            buffered = io.BufferedWriter(hasher, buffer_size=1 << 16)
            write(buffered)
            if not buffered.closed:
                buffered.flush()
            self.files.append({"name": name, "sha256": hasher.hexdigest(), "size": hasher.size})


def _query_threads(site_id: int, out: BinaryIO) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(QUERY_COLUMNS)
    queries = (
        Query.objects.filter(participant__site_id=site_id)
        .select_related("participant")
        .prefetch_related("messages__author")
        .order_by("participant__subject_id", "opened_at", "pk")
    )
    for query in queries:
        for message in query.messages.all():
            writer.writerow(
                [
                    query.participant.subject_id,
                    query.pk,
                    query.record,
                    query.record_id or "",
                    query.field,
                    query.status,
                    message.kind,
                    message.text_shown,
                    message.author.get_username() if message.author else "system",
                    message.written_at.isoformat(),
                ]
            )
    text.flush()
    text.detach()


def _pdf_of(casebook: Casebook) -> Callable[[BinaryIO], None]:
    def write(out: BinaryIO) -> None:
        out.write(casebook_pdf(casebook))

    return write


def _written_by(
    writer: Callable[..., None], scope: ExportScope, chain_head: str
) -> Callable[[BinaryIO], None]:
    def write(out: BinaryIO) -> None:
        writer(scope, out, progress=_no_progress, chain_head=chain_head)

    return write


def write_site_archive(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """One site's archive (the scope must name exactly one site), for whoever asked."""
    if len(scope.site_ids) != 1:
        raise ExportRefused(_("An archive is one site's certified copy: choose the site."))
    site = Site.objects.select_related("study").get(pk=scope.site_ids[0])
    reader = (
        User.objects.filter(pk=scope.requested_by_id).first()
        if scope.requested_by_id is not None
        else None
    )
    if reader is None:
        raise ExportRefused(_("The account that asked for this archive no longer exists."))
    key = anchor.signing_key()
    whole = replace(scope, subject_id=None, since=None, until=None)
    participants = list(
        Participant.objects.filter(site=site)
        .select_related("site__study")
        .order_by("subject_number")
    )
    total = len(participants) + 6
    progress(0, total)
    made_at = timezone.now()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = _Entries(archive)
        for number, participant in enumerate(participants, start=1):
            casebook = casebook_of(reader, participant, chain_head=chain_head, printed_at=made_at)
            entries.add(f"casebooks/{participant.subject_id}.pdf", _pdf_of(casebook))
            progress(number, total)
        writers: list[tuple[str, Callable[..., None]]] = [
            ("data/clinical_data_csv.zip", write_clinical_csv),
            ("data/sdtm_dataset_json.zip", write_sdtm_dataset_json),
            ("audit/audit_trail.csv", write_audit_csv),
            ("audit/audit_trail_odm.xml", write_audit_odm),
        ]
        for number, (name, writer) in enumerate(writers, start=len(participants) + 1):
            entries.add(name, _written_by(writer, whole, chain_head))
            progress(number, total)
        entries.add("queries/query_threads.csv", lambda f: _query_threads(site.pk, f))
        public_key = anchor.public_key_pem(key)
        manifest = json.dumps(
            {
                "format": ARCHIVE_FORMAT,
                "study": site.study.code,
                "site": site.code,
                "site_name": site.name_en,
                "audit_chain_head": chain_head,
                "made_by": reader.get_username(),
                "made_at": made_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                "language": translation.get_language() or "en",
                "files": entries.files,
            },
            ensure_ascii=False,
            indent=1,
        ).encode()
        try:
            stamp = anchor.timestamp(manifest)
        except anchor.TimestampUnavailable as exc:
            raise ExportRefused(
                _(
                    "The time-stamping authority did not stamp the archive (%(error)s). "
                    "Nothing was kept; ask for the archive again later."
                )
                % {"error": exc}
            ) from exc
        archive.writestr(MANIFEST, manifest)
        archive.writestr(SIGNATURE, base64.b64encode(anchor.sign(manifest, key)) + b"\n")
        archive.writestr(TIMESTAMP, stamp.response)
        archive.writestr(PUBLIC_KEY, public_key)
    progress(total, total)


@dataclass(frozen=True)
class ArchiveReport:
    """What ``verify_archive`` found: every failure in words, and what held."""

    failures: tuple[str, ...]
    files_checked: int
    stamped_at: dt.datetime | None
    #: the SHA-256 of the public key the signature was checked with, to compare with
    #: the one the installation's administrators publish
    key_fingerprint: str = ""

    @property
    def intact(self) -> bool:
        return not self.failures


def archive_verify(
    path: str,
    *,
    public_key: str | None = None,
    roots: list[x509.Certificate] | None = None,
) -> ArchiveReport:
    """Check an archive offline: every file against the manifest's SHA-256 (and no file
    the manifest does not list), the manifest's signature (by ``public_key`` when given,
    else by the key inside), and its time stamp against the authority's ``roots``."""
    failures: list[str] = []
    stamped_at: dt.datetime | None = None
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        missing = [
            name for name in (MANIFEST, SIGNATURE, TIMESTAMP, PUBLIC_KEY) if name not in names
        ]
        if missing:
            return ArchiveReport(
                tuple(f"{name}: missing from the archive" for name in missing), 0, None
            )
        manifest = archive.read(MANIFEST)
        listed = json.loads(manifest)["files"]
        for entry in listed:
            if entry["name"] not in names:
                failures.append(f"{entry['name']}: listed in the manifest but missing")
                continue
            digest = hashlib.sha256(archive.read(entry["name"])).hexdigest()
            if digest != entry["sha256"]:
                failures.append(f"{entry['name']}: its SHA-256 is not the manifest's (altered)")
        for name in sorted(names - ANCHOR_FILES - {e["name"] for e in listed}):
            failures.append(f"{name}: not listed in the manifest (added)")
        key = archive.read(PUBLIC_KEY).decode()
        if public_key is not None and key.strip() != public_key.strip():
            failures.append(f"{PUBLIC_KEY}: not the installation's public key")
        try:
            anchor.verify_signature(
                public_key or key, base64.b64decode(archive.read(SIGNATURE)), manifest
            )
        except (anchor.AnchorInvalid, ValueError):
            failures.append(f"{SIGNATURE}: the signature of the manifest does not hold")
        if roots:
            try:
                stamped_at = anchor.verify_timestamp(archive.read(TIMESTAMP), manifest, roots=roots)
            except anchor.AnchorInvalid:
                failures.append(f"{TIMESTAMP}: the time stamp of the manifest does not hold")
        else:
            failures.append(f"{TIMESTAMP}: no root certificate of the authority to check it")
    used = (public_key or key).strip() + "\n"
    return ArchiveReport(
        tuple(failures), len(listed), stamped_at, hashlib.sha256(used.encode()).hexdigest()
    )
