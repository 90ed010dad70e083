"""When a randomized participant has completed the trial.

Protocol: she has completed once four things are done: the last visit of the protocol
is done, the dosing period is over (her site's today is after the last dosing day), the
capsules she brought back are recorded (drug return), and every adverse event of hers
is confirmed by an investigator. :func:`completion_open_items` says which are still
open; :func:`participant_complete_if_done` moves her to completed once none is, and is
called after every write that can close one (:func:`ecrf.schedule.services.treatment_write`
covers visits, doses, drug return and the endpoint forms; adverse-event confirmation
calls it itself).

Adverse events live in a layer above this one; they are read through the form
catalogue, which names every form's model (as queries and verification read them).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection
from django.urls import reverse
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from ecrf.common import catalogue
from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.participants.services import participant_set_status, site_today

from .arithmetic import compute_schedule
from .definitions import schedule_definition, studies_of, study_visit_definitions
from .models import DrugReturn, EmbryoTransfer, VisitOutcome, VisitRecord

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from ecrf.studies.models import Study

LAST_VISIT = "last_visit"
DOSING_OVER = "dosing_over"
DRUG_RETURN = "drug_return"
ADVERSE_EVENTS_CONFIRMED = "adverse_events_confirmed"


@dataclass(frozen=True)
class OpenItem:
    """One thing to be done before she has completed: its code, what it is (in the
    active language) and the page where it is done."""

    code: str
    label: str
    url: str


@dataclass(frozen=True)
class CompletionState:
    """The four items of completion, each done or open, and the target day of her last
    visit (``None`` before her embryo transfer date is set)."""

    done: tuple[OpenItem, ...]
    open: tuple[OpenItem, ...]
    last_visit_target: dt.date | None


def completion_state(participant: Participant) -> CompletionState:
    """Each of the four items of completion for her, done or open (see the module)."""
    return completion_states([participant])[participant.pk]


@functools.cache
def _facts_sql() -> str:
    """Her transfer date, her visits done, whether her drug return is recorded and
    whether an adverse event of hers awaits confirmation, each participant of a list:
    one statement, written once, as a write asks it after every change to her treatment.
    Its parameters are the outcome of a visit done, then the participants' ids."""
    tables = {
        name: connection.ops.quote_name(model._meta.db_table)
        for name, model in (
            ("participant", Participant),
            ("transfer", EmbryoTransfer),
            ("visit", VisitRecord),
            ("drug_return", DrugReturn),
            ("adverse_event", catalogue.form("adverse_event").model_class),
        )
    }
    return f"""
        SELECT p.id, t.et_date,
               ARRAY(SELECT v.visit_code FROM {tables["visit"]} v
                      WHERE v.participant_id = p.id AND v.outcome = %s),
               EXISTS (SELECT 1 FROM {tables["drug_return"]} d WHERE d.participant_id = p.id),
               EXISTS (SELECT 1 FROM {tables["adverse_event"]} a
                        WHERE a.participant_id = p.id AND a.confirmed_at IS NULL)
          FROM {tables["participant"]} p
          LEFT JOIN {tables["transfer"]} t ON t.participant_id = p.id
         WHERE p.id = ANY(%s)
    """  # noqa: S608  (the models' table names)


def completion_states(participants: Iterable[Participant]) -> dict[int, CompletionState]:
    """The completion state of each participant, by primary key: her transfer date and
    the records that close an item read in one statement for all of them, and the
    visit definitions once per study."""
    people = list(participants)
    if not people:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_facts_sql(), [VisitOutcome.DONE, [p.pk for p in people]])
        facts = {
            pk: (et_date, set(done_visits or ()), drug_returned, unconfirmed_events)
            for pk, et_date, done_visits, drug_returned, unconfirmed_events in cursor.fetchall()
        }
    studies = studies_of(people)
    return {
        participant.pk: _state(
            participant, studies[participant.site.study_id], *facts[participant.pk]
        )
        for participant in people
    }


def _state(
    participant: Participant,
    study: Study,
    et_date: dt.date | None,
    done_visits: set[str],
    drug_returned: bool,
    unconfirmed_events: bool,
) -> CompletionState:
    treatment_page = reverse("schedule:treatment", args=[participant.pk])
    schedule = (
        compute_schedule(et_date, schedule_definition(study)) if et_date is not None else None
    )
    last = (
        max(schedule.visits, key=lambda v: v.target_date) if schedule and schedule.visits else None
    )
    definitions = {v.code: v for v in study_visit_definitions(study)}
    last_name = definitions[last.code].name if last is not None else ""
    today = site_today(participant.site)
    items: list[tuple[bool, OpenItem]] = [
        (
            last is not None and last.code in done_visits,
            OpenItem(
                LAST_VISIT,
                _("Last visit of the protocol done (%(visit)s)") % {"visit": last_name}
                if last_name
                else _("Last visit of the protocol done"),
                treatment_page,
            ),
        ),
        (
            schedule is not None and today > schedule.dosing_end,
            OpenItem(
                DOSING_OVER,
                _("Dosing period over (last dosing day %(date)s)")
                % {"date": schedule.dosing_end.isoformat()}
                if schedule is not None
                else _("Dosing period over"),
                treatment_page,
            ),
        ),
        (
            drug_returned,
            OpenItem(
                DRUG_RETURN,
                _("Drug return recorded"),
                treatment_page,
            ),
        ),
        (
            not unconfirmed_events,
            OpenItem(
                ADVERSE_EVENTS_CONFIRMED,
                _("Every adverse event confirmed by an investigator"),
                reverse("safety:adverse_events", args=[participant.pk]),
            ),
        ),
    ]
    return CompletionState(
        done=tuple(item for done, item in items if done),
        open=tuple(item for done, item in items if not done),
        last_visit_target=last.target_date if last is not None else None,
    )


def completion_open_items(participant: Participant) -> list[OpenItem]:
    """What is still to be done before she has completed (empty: she is done)."""
    return list(completion_state(participant).open)


def participant_complete_if_done(participant: Participant, performed_by: User | None) -> bool:
    """Move a randomized participant to completed once the four items are done (inside
    the service that wrote her data, her row locked); answer whether she moved.

    The status change is audited by :func:`participant_set_status`, its reason listing
    what was completed.
    """
    if participant.status != ParticipantStatus.RANDOMIZED:
        return False
    state = completion_state(participant)
    if state.open:
        return False
    participant_set_status(
        participant=participant,
        status=ParticipantStatus.COMPLETED,
        reason_code="completed",
        reason_params={
            "items": lambda: get_text_list(
                [item.label for item in completion_state(participant).done], _("and")
            )
        },
        performed_by=performed_by,
    )
    return True
