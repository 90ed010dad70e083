"""A small trial built through the real services, participant by participant, as sites
build it: for the tests of pages and reports over many participants in every state."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ecrf.accounts.models import User
from ecrf.endpoints.services import endpoint_record
from ecrf.participants.models import Participant
from ecrf.participants.services import consent_record, eligibility_record, participant_withdraw
from ecrf.queries.services import query_open
from ecrf.safety.services import adverse_event_record
from ecrf.schedule.services import dose_day_record, embryo_transfer_set
from randomization.services import participant_randomize

from .clock import at
from .factories import ELIGIBLE_ANSWERS, ParticipantFactory

#: Randomized on this day, treated and assessed by the second (Tokyo dates).
RANDOMIZED_ON = "2026-01-10"
ASSESSED_BY = "2026-02-10"
ET_DATE = dt.date(2026, 1, 14)


@dataclass
class TrialBuilder:
    """Makes participants the way sites do: screening to endpoints, through the services."""

    coordinators: dict[str, User]
    randomized_count: Counter[str] = field(default_factory=Counter)

    def register(self, site: str = "S01") -> Participant:
        """Registered in the screening log, nothing more yet."""
        from ecrf.studies.models import Site

        with at(RANDOMIZED_ON):
            return ParticipantFactory(
                site=Site.objects.get(code=site), performed_by=self.coordinators[site]
            )

    def screen(self, site: str = "S01", *, consent: bool = True, **answers: Any) -> Participant:
        """Screened and assessed (not eligible when an answer fails), and consented."""
        participant = self.register(site)
        coordinator = self.coordinators[site]
        with at(RANDOMIZED_ON):
            eligibility_record(
                participant=participant,
                answers={**ELIGIBLE_ANSWERS, **answers},
                performed_by=coordinator,
            )
            if consent:
                consent_record(
                    participant=participant,
                    consent_date=participant.screening_date + dt.timedelta(days=1),
                    consent_version="1.0",
                    performed_by=coordinator,
                )
        participant.refresh_from_db()
        return participant

    def randomize(self, participant: Participant, on: str = RANDOMIZED_ON, hour: int = 10) -> str:
        """Randomize her on ``on`` at ``hour``, Tokyo time; the list decides the arm, which
        is returned."""
        with at(on, hour):
            allocation = participant_randomize(
                participant=participant,
                idempotency_key=f"report-{participant.pk}",
                performed_by=self._coordinator(participant),
            )
        self.randomized_count[allocation.arm] += 1
        return allocation.arm

    def treat(
        self,
        participant: Participant,
        *,
        et_performed: bool = True,
        dose_taken: bool | None = True,
    ) -> None:
        """ET on 2026-01-14 (performed or only planned) and the first dosing day's entry
        (taken, missed, or none at all when ``dose_taken`` is None)."""
        coordinator = self._coordinator(participant)
        with at(ASSESSED_BY):
            embryo_transfer_set(
                participant=participant,
                et_date=ET_DATE,
                performed=et_performed,
                performed_by=coordinator,
            )
            if dose_taken is not None:
                dose_day_record(
                    participant=participant,
                    date=ET_DATE - dt.timedelta(days=2),
                    taken=dose_taken,
                    performed_by=coordinator,
                )

    def assess(
        self, participant: Participant, *, hcg_positive: bool | None, sac_seen: bool | None
    ) -> None:
        """The endpoint forms on their target days (ET+14, ET+21), as given."""
        coordinator = self._coordinator(participant)
        with at(ASSESSED_BY):
            if hcg_positive is not None:
                endpoint_record(
                    participant=participant,
                    record="biochemical_pregnancy",
                    values={
                        "assessed_on": ET_DATE + dt.timedelta(days=14),
                        "serum_hcg_miu_ml": Decimal("250") if hcg_positive else Decimal("1"),
                        "result": "positive" if hcg_positive else "negative",
                    },
                    confirm_warnings=True,
                    performed_by=coordinator,
                )
            if sac_seen is not None:
                endpoint_record(
                    participant=participant,
                    record="clinical_pregnancy",
                    values={
                        "assessed_on": ET_DATE + dt.timedelta(days=21),
                        "gestational_sac_seen": sac_seen,
                        "number_of_sacs": 1 if sac_seen else None,
                        "result": "positive" if sac_seen else "negative",
                    },
                    confirm_warnings=True,
                    performed_by=coordinator,
                )

    def adverse_event(self, participant: Participant, **values: Any) -> None:
        """An adverse event with onset on the first dosing day, as the site records it."""
        defaults: dict[str, Any] = {
            "term": "Pruritus",
            "onset_date": ET_DATE - dt.timedelta(days=1),
            "ctcae_grade": 1,
            "serious": False,
            "related": True,
            "outcome": "recovered",
        }
        with at(ASSESSED_BY):
            adverse_event_record(
                participant=participant,
                performed_by=self._coordinator(participant),
                **{**defaults, **values},
            )

    def one_in_each_state(self, site: str, *, queried_by: User | None = None) -> None:
        """At ``site``: a woman treated and assessed, with an adverse event; one screened
        and consented, waiting, with an open query on her consent; one not eligible."""
        treated = self.screen(site)
        self.randomize(treated)
        self.treat(treated)
        self.assess(treated, hcg_positive=True, sac_seen=True)
        self.adverse_event(treated)
        waiting = self.screen(site)
        query_open(
            participant=waiting,
            record="consent",
            field="consent_version",
            text="Which version?",
            performed_by=queried_by,
        )
        self.screen(site, pregnant=True)

    def withdraw(self, participant: Participant, reason: str) -> None:
        with at(ASSESSED_BY):
            participant_withdraw(
                participant=participant,
                date=dt.date.fromisoformat(ASSESSED_BY),
                reason=reason,
                performed_by=self._coordinator(participant),
            )

    def fas(
        self, quotas: dict[str, tuple[int, int, int]], sites: tuple[str, ...] = ("S01",)
    ) -> dict[str, list[Participant]]:
        """Participants in the FAS per arm: ``{arm: (N, clinical positives, hCG positives)}``.

        The randomization list decides each arm; participants of an arm whose quota is
        already full stay randomized without treatment (outside the FAS), as happens.
        """
        built: dict[str, list[Participant]] = {arm: [] for arm in quotas}
        turn = 0
        while any(len(built[arm]) < quotas[arm][0] for arm in quotas):
            participant = self.screen(sites[turn % len(sites)])
            turn += 1
            arm = self.randomize(participant)
            members = built[arm]
            size, sacs, hcg = quotas[arm]
            if len(members) >= size:
                continue
            index = len(members)
            self.treat(participant)
            self.assess(participant, hcg_positive=index < hcg, sac_seen=index < sacs)
            members.append(participant)
        return built

    def _coordinator(self, participant: Participant) -> User:
        return self.coordinators[participant.site.code]
