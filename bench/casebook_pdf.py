"""PDF casebooks: pages per second of a real casebook, and the site archive's memory.

A treated participant is built through the app's services (screening, eligibility,
consent, randomization, transfer, a dose diary day by day with its corrections), so
that her casebook (forms, marks, audit trail) runs to about ten pages. Its PDF is printed
as an export prints it (:func:`ecrf.review.casebook.casebook_pdf`), interleaved one at a
time with the baseline: WeasyPrint printing a plain document of as many pages (tables of
the same number of rows, no data to read), the floor of the PDF library itself. The
figure is the casebook's pages per second over the baseline's, the median of the rounds
with their range.

Then a site archive of ``ARCHIVE_PARTICIPANTS`` (``python bench/casebook_pdf.py N``)
participants is written by the export job, with the loopback time-stamping authority of
the tests, and its peak memory reported (how far the process's resident memory grew
during the job; tracing Python's allocations would slow it several times), with its
casebooks per second over printing the site's first casebooks alone, one after another.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from typing import Any

from audit_export import _peak_rss_growth_kb, _run_job
from common import fresh_database, report

ARCHIVE_PARTICIPANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
ROUNDS = 9
#: Casebooks printed alone, one after another: the archive's baseline.
BASELINE_CASEBOOKS = 50


def _casebook_participant() -> tuple[Any, Any]:
    import trialdata

    from ecrf.schedule.services import dose_day_record

    study = trialdata.trial(["S01"])
    site = study.sites.get(code="S01")
    coordinator = trialdata.staff("bench-coordinator", "coordinator", ["S01"])
    monitor = trialdata.staff("bench-monitor", "monitor", ["S01"])
    [participant] = trialdata.treated_participants(site, coordinator, 1)
    for day in trialdata.dosing_days(site):
        dose_day_record(participant=participant, date=day, taken=True, performed_by=coordinator)
    return participant, monitor


def _pages(document: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(document)).pages)


def _baseline_html(pages: int) -> str:
    rows = "".join(f"<tr><td>Row {n}</td><td>Value {n}</td></tr>" for n in range(pages * 38))
    return (
        "<html><body style='font-family: \"Noto Sans CJK JP\"; font-size: 8.5pt'>"
        f"<table>{rows}</table></body></html>"
    )


def main() -> None:
    fresh_database()
    import datetime as dt

    import weasyprint
    from django.utils import translation

    from ecrf.review.casebook import casebook_of, casebook_pdf

    participant, monitor = _casebook_participant()
    with translation.override("en"):
        printed = dt.datetime.now(dt.UTC)

        def casebook() -> bytes:
            return casebook_pdf(
                casebook_of(monitor, participant, chain_head="0" * 64, printed_at=printed)
            )

        pages = _pages(casebook())
        plain = _baseline_html(pages)
        baseline_pages = _pages(weasyprint.HTML(string=plain).write_pdf())
        ratios, casebook_rates, baseline_rates = [], [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            casebook()
            casebook_rate = pages / (time.perf_counter() - started)
            started = time.perf_counter()
            weasyprint.HTML(string=plain).write_pdf()
            baseline_rate = baseline_pages / (time.perf_counter() - started)
            casebook_rates.append(casebook_rate)
            baseline_rates.append(baseline_rate)
            ratios.append(casebook_rate / baseline_rate)
    report(
        "casebook_pdf",
        statistics.median(casebook_rates),
        "pages/s",
        statistics.median(baseline_rates),
        ratio_min=round(min(ratios), 3),
        ratio_max=round(max(ratios), 3),
        samples=ROUNDS,
        casebook_pages=pages,
        baseline_pages=baseline_pages,
        baseline_unit="pages/s of WeasyPrint printing a plain table of as many pages",
    )
    _archive(participant.site, monitor)


def _archive(site: Any, monitor: Any) -> None:
    """A site archive of ARCHIVE_PARTICIPANTS screened participants' casebooks."""
    import os
    import tempfile

    import trialdata
    from cryptography.hazmat.primitives import serialization
    from django.conf import settings

    from ecrf.audit import anchor
    from tests.tsa import LoopbackTSA

    coordinator = trialdata.staff("bench-coordinator-2", "coordinator", [site.code])
    have = site.participants.count()
    for _ in range(max(ARCHIVE_PARTICIPANTS - have, 0)):
        trialdata.ready_participant(site, coordinator)
    with tempfile.TemporaryDirectory() as folder, LoopbackTSA() as tsa:
        key = os.path.join(folder, "archive.pem")
        with open(key, "wb") as handle:
            handle.write(anchor.new_signing_key_pem())
        settings.ARCHIVE_KEY_FILE = key
        settings.TSA_URL = tsa.url
        roots = os.path.join(folder, "roots.pem")
        with open(roots, "wb") as handle:
            handle.write(tsa.root.public_bytes(serialization.Encoding.PEM))
        settings.TSA_ROOT_CERTS = roots

        from django.utils import timezone

        from ecrf.review.casebook import casebook_of, casebook_pdf

        alone = list(site.participants.order_by("subject_number")[:BASELINE_CASEBOOKS])
        started = time.perf_counter()
        for participant in alone:
            casebook_pdf(
                casebook_of(monitor, participant, chain_head="0" * 64, printed_at=timezone.now())
            )
        alone_rate = len(alone) / (time.perf_counter() - started)

        (seconds, _rows, size), growth_kb = _peak_rss_growth_kb(
            lambda: _run_job(monitor, "archive", "zip", site=site)
        )
    participants = site.participants.count()
    report(
        "casebook_pdf.site_archive",
        participants / seconds,
        "casebooks/s",
        alone_rate,
        participants=participants,
        archive_seconds=round(seconds, 1),
        archive_mb=round(size / 1e6, 1),
        rss_peak_growth_mb=round(growth_kb / 1024, 1) if growth_kb is not None else None,
        peak_memory_measure="growth of the process's resident memory (VmHWM) over the job",
        target_peak_mb=300,
        baseline_unit=f"casebooks/s printing the site's first {BASELINE_CASEBOOKS} alone",
    )


if __name__ == "__main__":
    main()
