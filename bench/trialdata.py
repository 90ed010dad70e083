"""Study data for the benchmarks and the load test, made through the services as the app
makes it (and, for the 10,000-participant screening log, copied from such records in SQL).

A treated participant was randomized 20 days ago (the clock is moved back for that, as the
tests do) and had her embryo transfer 15 days ago: today is inside her biochemical
pregnancy visit window (ET+14 to ET+16), and the dosing days ET-2 to ET+13 are all past,
so both the dose diary and the endpoint forms take entries today.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from ecrf.participants.models import Participant
    from ecrf.studies.models import Site, Study

STAFF_PASSWORD = "Bench-Load-Staff-2026"  # noqa: S105  (throwaway databases only)
RANDOMIZED_DAYS_AGO = 20
ET_DAYS_AGO = 15


def trial(site_codes: list[str]) -> Study:
    """The tacrolimus study with these sites, each with its active randomization list."""
    from ecrf.home.services import study_setup_trial

    study, _report = study_setup_trial(
        sites=[(code, f"Site {code}", "") for code in site_codes], performed_by=None
    )
    return study


def relax_mfa(study: Study) -> None:
    """Switch two-factor authentication off, as the demo installation does (not production)."""
    from ecrf.audit.services import record_update

    record_update(
        instance=study,
        values={"mfa_required": False},
        reason="Load test installation: two-factor authentication relaxed",
        performed_by=None,
        site=None,
    )


def staff(username: str, role: str, site_codes: list[str]) -> User:
    from ecrf.accounts.services import user_create

    return user_create(
        username=username,
        role=role,
        password=STAFF_PASSWORD,
        site_codes=site_codes,
        printed_name=username.title(),
        language="en",
        performed_by=None,
        validate=False,
    )


def ensure_slots(site: Site, count: int) -> None:
    """At least ``count`` free slots on the site's active list (extended by the statistician)."""
    from randomization.models import ListStatus, RandomizationList
    from randomization.services import MAX_LIST_LENGTH, list_extend

    statistician = _statistician()
    active = RandomizationList.objects.get(site=site, status=ListStatus.ACTIVE)
    missing = count - active.slots.filter(participant__isnull=True).count()
    while missing > 0:
        added = list_extend(
            randomization_list=active,
            length=min(missing, MAX_LIST_LENGTH),
            performed_by=statistician,
        )
        missing -= added


def _statistician() -> User:
    from ecrf.accounts.models import User

    found = User.objects.filter(role="statistician").first()
    return found or staff("bench-statistician", "statistician", [])


def _site_now(site: Site, days_ago: int) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(site.time_zone)
    local = dt.datetime.now(zone) - dt.timedelta(days=days_ago)
    return local.replace(hour=10, minute=0, second=0, microsecond=0)


def ready_participant(site: Site, coordinator: User) -> Participant:
    """A woman screened three days ago, eligible, who consented two days ago."""
    from ecrf.participants.services import consent_record, eligibility_record, participant_enroll
    from ecrf.studies.trial import CONSENT_VERSIONS
    from tests.factories import ELIGIBLE_ANSWERS

    zone = zoneinfo.ZoneInfo(site.time_zone)
    today = dt.datetime.now(zone).date()
    participant = participant_enroll(
        site=site,
        screening_date=today - dt.timedelta(days=3),
        birth_date=dt.date(1990, 5, 17),
        performed_by=coordinator,
    )
    eligibility_record(participant=participant, answers=ELIGIBLE_ANSWERS, performed_by=coordinator)
    consent_record(
        participant=participant,
        consent_date=today - dt.timedelta(days=2),
        consent_version=CONSENT_VERSIONS[-1],
        performed_by=coordinator,
    )
    participant.refresh_from_db()
    return participant


def treated_participants(site: Site, coordinator: User, count: int) -> list[Participant]:
    """``count`` women randomized 20 days ago whose embryo transfer was 15 days ago."""
    import time_machine

    from ecrf.participants.models import Participant
    from ecrf.schedule.services import embryo_transfer_set
    from randomization.services import participant_randomize

    ensure_slots(site, count)
    ids = []
    with time_machine.travel(_site_now(site, RANDOMIZED_DAYS_AGO), tick=True):
        for _ in range(count):
            participant = ready_participant(site, coordinator)
            participant_randomize(
                participant=participant,
                idempotency_key=f"setup-{participant.pk}",
                performed_by=coordinator,
            )
            ids.append(participant.pk)
    et_date = _site_now(site, ET_DAYS_AGO).date()
    treated = list(Participant.objects.select_related("site__study").filter(pk__in=ids))
    for participant in treated:
        embryo_transfer_set(
            participant=participant,
            et_date=et_date,
            performed=True,
            embryos_transferred=1,
            embryo_stage="blastocyst",
            performed_by=coordinator,
        )
    return treated


def dosing_days(site: Site) -> list[dt.date]:
    """The dosing days of a treated participant (ET-2 to ET+13), all in the past."""
    et_date = _site_now(site, ET_DAYS_AGO).date()
    return [et_date + dt.timedelta(days=offset) for offset in range(-2, 14)]


def biochemical_values(site: Site, serum_hcg: int = 120) -> dict[str, Any]:
    """A biochemical pregnancy form inside its window that fires no edit check."""
    from decimal import Decimal

    zone = zoneinfo.ZoneInfo(site.time_zone)
    return {
        "assessed_on": dt.datetime.now(zone).date(),
        "serum_hcg_miu_ml": Decimal(serum_hcg),
        "result": "positive",
    }
