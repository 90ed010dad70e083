"""``python manage.py verify_archive FILE``: check a site archive offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecrf.audit.checkpoints import tsa_roots
from ecrf.review.archive import archive_verify


class Command(BaseCommand):
    help = (
        "Check a site archive without the database: the SHA-256 of every file against "
        "its manifest, the manifest's signature and its RFC 3161 time stamp. Exits 0 only "
        "when all hold; otherwise names each file, the signature or the stamp that fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The archive (zip).")
        parser.add_argument(
            "--public-key",
            metavar="FILE",
            help="The installation's public key (PEM); else the key inside the archive.",
        )
        parser.add_argument(
            "--tsa-roots",
            metavar="FILE",
            help="The authority's root certificates (PEM); else TSA_ROOT_CERTS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        public_key = (
            Path(options["public_key"]).read_text(encoding="utf-8")
            if options["public_key"]
            else None
        )
        roots = (
            x509.load_pem_x509_certificates(Path(options["tsa_roots"]).read_bytes())
            if options["tsa_roots"]
            else tsa_roots()
        )
        try:
            report = archive_verify(str(path), public_key=public_key, roots=roots)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"{path} is not a site archive: {exc}") from exc
        if not report.intact:
            raise CommandError(
                f"Archive NOT intact ({len(report.failures)} problem(s)):\n"
                + "\n".join(f"- {failure}" for failure in report.failures)
            )
        stamped = report.stamped_at.isoformat() if report.stamped_at else "?"
        self.stdout.write(
            f"Archive intact: {report.files_checked} files match the manifest; its signature "
            f"holds; time-stamped at {stamped}; "
            f"signed by the key of SHA-256 fingerprint {report.key_fingerprint} (compare it "
            "with the one on the installation's audit review page)."
        )
