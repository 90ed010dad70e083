"""Every form and every input serializer, with the page or endpoint that takes it.

A form or serializer that is neither here nor in :data:`NOT_INPUTS` fails
``test_every_form_and_serializer_has_a_hostile_target``: adding one means saying how
to reach it with hostile data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from rest_framework import serializers

from ecrf.accounts.forms import AccessReviewForm, LoginForm, StyledPasswordChangeForm, TokenForm
from ecrf.accounts.models import AccessReview, User
from ecrf.accounts.selectors import sites_visible_to
from ecrf.api import access as api_access
from ecrf.api import audit as api_audit
from ecrf.api import forms as api_forms
from ecrf.api import keys as api_keys
from ecrf.api import queries as api_queries
from ecrf.api import review as api_review
from ecrf.api import serializers as api
from ecrf.endpoints.forms import BiochemicalPregnancyForm, ClinicalPregnancyForm
from ecrf.exports import api as exports_api
from ecrf.exports.forms import ExportRequestForm
from ecrf.exports.models import ExportJob
from ecrf.labs.forms import LabResultForm
from ecrf.labs.models import LabResult
from ecrf.participants.forms import (
    ConsentForm,
    EligibilityForm,
    ParticipantFilterForm,
    RandomizeForm,
    ScreeningCorrectionForm,
    ScreeningForm,
    UnblindForm,
    WithdrawalForm,
)
from ecrf.participants.models import Participant
from ecrf.participants.services import eligibility_record
from ecrf.quality.forms import (
    LockForm,
    SignForm,
    UnlockForm,
    VerificationWorklistFilterForm,
    VerifyForm,
)
from ecrf.quality.models import Lock, Signature, Verification
from ecrf.quality.services import lock_set
from ecrf.queries.forms import QueryFilterForm, QueryOpenForm, QueryStepForm
from ecrf.queries.models import Query, QueryMessage
from ecrf.queries.services import query_close, query_open, query_respond
from ecrf.reports import api as reports_api
from ecrf.review.forms import AuditFilterForm, AuditReviewForm
from ecrf.review.models import AuditReview
from ecrf.safety.forms import (
    AdverseEventEditForm,
    AdverseEventForm,
    AwaitingConfirmationFilterForm,
    ConfirmForm,
)
from ecrf.safety.models import AdverseEvent
from ecrf.safety.services import adverse_event_record
from ecrf.schedule.forms import (
    DispensingForm,
    DoseCorrectionForm,
    DoseForm,
    DoseIntakeForm,
    DrugReturnForm,
    EmbryoTransferForm,
    VisitRecordForm,
)
from ecrf.schedule.models import Dispensing, DoseEntry, DrugReturn, VisitRecord
from ecrf.schedule.selectors import treatment_of
from ecrf.schedule.services import dose_record, embryo_transfer_set
from ecrf.studies.models import Site
from randomization import blocks
from randomization.forms import ExtendListForm, GenerateListForm, ImportListForm
from randomization.models import RandomizationList
from tests.factories import ELIGIBLE_ANSWERS, PASSWORD, ParticipantFactory

from .admin_targets import ADMIN_TARGETS
from .engine import Ctx, Target


class LoginFields(LoginForm):
    """The sign-in form's own field checks, without trying the password (and counting)."""

    def clean(self) -> dict[str, Any]:
        return self.cleaned_data


# -- shared set-ups --------------------------------------------------------------------


def _web(scene: Any, role: str | None, **values: Any) -> Ctx:
    return Ctx(client=scene.web(role), user=scene.user(role) if role else None, **values)


def _api(scene: Any, role: str, **values: Any) -> Ctx:
    return Ctx(client=scene.api(role), user=scene.user(role), **values)


def _screened(scene: Any) -> Participant:
    return ParticipantFactory(site=scene.fx("site_a"), performed_by=scene.user("coordinator"))


def _assessed(scene: Any) -> Participant:
    participant = _screened(scene)
    eligibility_record(
        participant=participant,
        answers=dict(ELIGIBLE_ANSWERS),
        performed_by=scene.user("coordinator"),
    )
    return participant


def _performed(scene: Any) -> Participant:
    """The transferred participant, her transfer of 2026-03-01 performed."""
    participant = scene.fx("transferred")
    embryo_transfer_set(
        participant=participant,
        et_date=dt.date(2026, 3, 1),
        performed=True,
        embryos_transferred=1,
        embryo_stage="blastocyst",
        embryo_grade="4AA",
        reason="Transfer performed as planned",
        performed_by=scene.user("coordinator"),
    )
    participant.refresh_from_db()
    return participant


def _dosed(scene: Any) -> Participant:
    """The transferred participant, the evening intake of 2026-02-27 recorded as taken."""
    participant = scene.fx("transferred")
    dose_record(
        participant=participant,
        date=dt.date(2026, 2, 27),
        intake="evening",
        taken=True,
        time_taken=dt.time(20, 0),
        performed_by=scene.user("coordinator"),
    )
    return participant


def _dose_target(
    name: str,
    schema: type[forms.Form],
    page: str,
    participant: Callable[[Any], Participant],
    extra: dict[str, str] | None = None,
) -> Target:
    """A form of the dose diary's pages: one intake, taken at the arm's dose by default."""
    return Target(
        name=name,
        schema=schema,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/{page}",
        setup=lambda s: _web(s, "coordinator", participant=participant(s)),
        baseline=lambda c: {
            "taken": "True",
            "dose_mg": _intake_dose(c.participant),
            "time_taken": "08:30",
            "missed_reason": "",
            "comment": "",
            "deviation_reason": "",
            **(extra or {}),
        },
        build=lambda c, d, f: schema(d),
        stored=_latest(DoseEntry, participant="participant"),
        not_stored=frozenset({"reason"}),
        defaulted=frozenset({"dose_mg"}),
        expect=_deviation_kept_only_for_a_deviation,
        form_key="form",
        clock="2026-03-05",
    )


def _adverse_event(scene: Any, participant: Participant) -> AdverseEvent:
    return adverse_event_record(
        participant=participant,
        term="Headache",
        onset_date=dt.date(2026, 3, 10),
        ctcae_grade=1,
        serious=False,
        related=False,
        outcome="recovered",
        performed_by=scene.user("coordinator"),
    )


def _query(scene: Any, participant: Participant, *, answered: bool = False) -> Query:
    query = query_open(
        participant=participant,
        record="consent",
        field="consent_date",
        text="Please check the consent date against the signed form.",
        performed_by=scene.user("monitor"),
    )
    if answered:
        query_respond(query=query, text="Checked: correct.", performed_by=scene.user("coordinator"))
    return query


def _deviation_kept_only_for_a_deviation(cleaned: dict[str, Any], record: Any) -> dict[str, Any]:
    """The diary keeps a deviation's reason only when the dose is a deviation."""
    reason = cleaned.get("deviation_reason", "")
    return {**cleaned, "deviation_reason": reason if record.deviation else ""}


def _evening_share_of_a_day(cleaned: dict[str, Any], record: Any) -> dict[str, Any]:
    """A whole day posted at once is two intakes; the latest stored is the evening's, with
    its share of the day's dose and capsules and no time (the time goes on the morning)."""
    cleaned = _deviation_kept_only_for_a_deviation(cleaned, record)
    if cleaned.get("intake"):
        return cleaned
    intakes = record.participant.allocation.arm.intakes_per_day
    share = {"time_taken": None}
    if cleaned.get("dose_mg") is not None:
        share["dose_mg"] = cleaned["dose_mg"] / intakes
    if cleaned.get("capsules") is not None:
        share["capsules"] = cleaned["capsules"] // intakes
    return {**cleaned, **share}


def _arm_dose(participant: Participant) -> str:
    return str(participant.allocation.arm.daily_dose_mg)


def _intake_dose(participant: Participant) -> str:
    arm = participant.allocation.arm
    return str(arm.daily_dose_mg / arm.intakes_per_day)


def _latest(model: Any, **filters: Any) -> Any:
    return lambda ctx: (
        model.objects.filter(**{k: ctx[v] for k, v in filters.items()}).order_by("-pk").first()
    )


def _allocation_csv() -> bytes:
    slots = blocks.generate_list(seed=20260301, length=6)
    return blocks.to_csv(slots).encode()


def _web_answers() -> dict[str, str]:
    return {k: ("" if v is None else str(v)) for k, v in ELIGIBLE_ANSWERS.items()} | {"reason": ""}


def _json_answers() -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in ELIGIBLE_ANSWERS.items()}


P = "/participants/"

# -- the pages -------------------------------------------------------------------------

WEB_TARGETS: list[Target] = [
    Target(
        name="screening",
        schema=ScreeningForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}new/",
        setup=lambda s: _web(s, "coordinator", site=s.fx("site_a")),
        baseline=lambda c: {
            "site": str(c.site.pk),
            "screening_date": "2026-03-10",
            "birth_date": "1990-05-17",
        },
        build=lambda c, d, f: ScreeningForm(d, sites=sites_visible_to(c.user)),
        stored=lambda c: Participant.objects.order_by("-pk").first(),
        clock="2026-03-16",
    ),
    Target(
        name="screening_correction",
        schema=ScreeningCorrectionForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/edit/",
        setup=lambda s: _web(s, "coordinator", participant=_screened(s)),
        baseline=lambda c: {
            "screening_date": c.participant.screening_date.isoformat(),
            "birth_date": "1991-06-18",
            "reason": "Transcription error",
        },
        build=lambda c, d, f: ScreeningCorrectionForm(d),
        stored=lambda c: c.participant,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
    ),
    Target(
        name="participant_filter",
        schema=ParticipantFilterForm,
        role="coordinator",
        method="get",
        path=lambda c: P,
        setup=lambda s: _web(s, "coordinator", participant=_screened(s)),
        baseline=lambda c: {"site": "S01", "status": "screening", "q": "S01"},
        build=lambda c, d, f: ParticipantFilterForm(d, sites=sites_visible_to(c.user)),
        clock="2026-03-16",
        weight=0.5,
        saves=False,
    ),
    Target(
        name="query_filter",
        schema=QueryFilterForm,
        role="monitor",
        method="get",
        path=lambda c: "/queries/",
        setup=lambda s: _web(s, "monitor", participant=s.fx("ready_participant")()),
        baseline=lambda c: {
            "site": "S01",
            "participant": str(c.participant.pk),
            "form": "consent",
            "status": "open",
            "age": "0-7",
            "raised_by": c.user.username,
            "sort": "-age",
            "page": "1",
        },
        build=lambda c, d, f: QueryFilterForm(d, sites=sites_visible_to(c.user)),
        clock="2026-03-16",
        weight=0.5,
        saves=False,
    ),
    Target(
        name="verification_worklist_filter",
        schema=VerificationWorklistFilterForm,
        role="monitor",
        method="get",
        path=lambda c: f"{P}verification/",
        setup=lambda s: _web(s, "monitor", participant=_assessed(s)),
        baseline=lambda c: {"site": "S01", "awaiting": "verification", "sort": "critical"},
        build=lambda c, d, f: VerificationWorklistFilterForm(d, sites=sites_visible_to(c.user)),
        clock="2026-03-16",
        weight=0.5,
        saves=False,
    ),
    Target(
        name="awaiting_confirmation_filter",
        schema=AwaitingConfirmationFilterForm,
        role="monitor",
        method="get",
        path=lambda c: f"{P}adverse-events/awaiting-confirmation/",
        setup=lambda s: _web(s, "monitor", participant=_screened(s)),
        baseline=lambda c: {"site": "S01"},
        build=lambda c, d, f: AwaitingConfirmationFilterForm(d, sites=sites_visible_to(c.user)),
        clock="2026-03-16",
        weight=0.5,
        saves=False,
    ),
    Target(
        name="eligibility",
        schema=EligibilityForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/eligibility/",
        setup=lambda s: _web(s, "coordinator", participant=_screened(s)),
        baseline=lambda c: _web_answers(),
        build=lambda c, d, f: EligibilityForm(d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).eligibility,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        weight=1.5,
    ),
    Target(
        name="eligibility_check",
        schema=EligibilityForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/eligibility/check/",
        setup=lambda s: _web(s, "coordinator", participant=_screened(s)),
        baseline=lambda c: _web_answers(),
        build=lambda c, d, f: EligibilityForm(d),
        clock="2026-03-16",
        weight=0.5,
        saves=False,
    ),
    Target(
        name="consent",
        schema=ConsentForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/consent/",
        setup=lambda s: _web(s, "coordinator", participant=_assessed(s)),
        baseline=lambda c: {"consent_date": "2026-03-14", "consent_version": "1.0", "reason": ""},
        build=lambda c, d, f: ConsentForm(d, versions=c.participant.site.study.consent_versions),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).consent,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
    ),
    Target(
        name="randomize",
        schema=RandomizeForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/randomize/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("ready_participant")()),
        baseline=lambda c: {"token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
        build=lambda c, d, f: RandomizeForm(d),
        clock="2026-03-16",
        weight=0.5,
    ),
    Target(
        name="unblind",
        schema=UnblindForm,
        role="investigator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/unblind/",
        setup=lambda s: _blinded(s),
        baseline=lambda c: {"reason": "Emergency: treating physician needs the dose"},
        build=lambda c, d, f: UnblindForm(d),
        stored=lambda c: c.participant.unblindings.order_by("-pk").first(),
        clock="2026-03-16",
    ),
    Target(
        name="withdraw",
        schema=WithdrawalForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/withdraw/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("transferred")),
        baseline=lambda c: {
            "date": "2026-03-15",
            "decided_by": "participant",
            "reason": "Moved to another prefecture",
        },
        build=lambda c, d, f: WithdrawalForm(d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).withdrawal,
        clock="2026-03-16",
    ),
    Target(
        name="biochemical_pregnancy",
        schema=BiochemicalPregnancyForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/endpoints/biochemical_pregnancy/",
        setup=lambda s: _web(s, "coordinator", participant=_performed(s)),
        baseline=lambda c: {
            "assessed_on": "2026-03-15",
            "serum_hcg_miu_ml": "250.00",
            "result": "positive",
            "reason": "",
            "confirm_warnings": "",
        },
        build=lambda c, d, f: BiochemicalPregnancyForm(d, form_id="biochemical_pregnancy-form"),
        explained_by=("warnings",),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).biochemical_pregnancy,
        not_stored=frozenset({"reason", "confirm_warnings"}),
        clock="2026-03-16",
    ),
    Target(
        name="clinical_pregnancy",
        schema=ClinicalPregnancyForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/endpoints/clinical_pregnancy/",
        setup=lambda s: _web(s, "coordinator", participant=_performed(s)),
        baseline=lambda c: {
            "assessed_on": "2026-03-22",
            "transvaginal_ultrasound": "True",
            "gestational_sac_seen": "True",
            "number_of_sacs": "1",
            "fetal_heartbeat": "True",
            "ectopic_pregnancy": "False",
            "result": "positive",
            "followup_study_consent": "",
            "reason": "",
            "confirm_warnings": "on",
        },
        build=lambda c, d, f: ClinicalPregnancyForm(d, form_id="clinical_pregnancy-form"),
        explained_by=("warnings",),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).clinical_pregnancy,
        not_stored=frozenset({"reason", "confirm_warnings"}),
        clock="2026-03-23",
    ),
    Target(
        name="lab_result",
        schema=LabResultForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/labs/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("randomized")),
        baseline=lambda c: {
            "visit": "screening",
            "analyte": "potassium",
            "measured_on": "2026-02-18",
            "value": "4.10",
            "reason": "",
        },
        build=lambda c, d, f: LabResultForm(d),
        stored=_latest(LabResult, participant="participant"),
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
    ),
    Target(
        name="sign",
        schema=SignForm,
        role="investigator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/sign/",
        setup=lambda s: _web(s, "investigator", participant=s.fx("randomized")),
        baseline=lambda c: {
            "meaning": "I approve this casebook",
            "password": PASSWORD,
            "sign_anyway": "on",
        },
        build=lambda c, d, f: SignForm(d),
        stored=_latest(Signature, participant="participant"),
        not_stored=frozenset({"password", "sign_anyway"}),
        form_key="refused_form",
        clock="2026-03-16",
    ),
    Target(
        name="verify",
        schema=VerifyForm,
        role="monitor",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/verify/",
        setup=lambda s: _web(s, "monitor", participant=s.fx("randomized")),
        baseline=lambda c: {"record": "eligibility", "field": "th1_th2_ratio"},
        build=lambda c, d, f: VerifyForm(d),
        stored=_latest(Verification, participant="participant"),
        defaulted=frozenset({"record_id", "field"}),  # none: every row, every field
        clock="2026-03-16",
    ),
    Target(
        name="lock",
        schema=LockForm,
        role="data_manager",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/lock/",
        setup=lambda s: _web(s, "data_manager", participant=s.fx("randomized")),
        baseline=lambda c: {"reason": "Data cleaning finished", "record": ""},
        build=lambda c, d, f: LockForm(d),
        stored=lambda c: Lock.objects.order_by("-pk").first(),
        clock="2026-03-16",
        form_key="refused_form",
    ),
    Target(
        name="unlock",
        schema=UnlockForm,
        role="data_manager",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/unlock/",
        setup=lambda s: _locked(s, _web),
        baseline=lambda c: {"reason": "Query answered late; reopened"},
        build=lambda c, d, f: UnlockForm(d),
        stored=lambda c: c.lock,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        form_key="refused_form",
    ),
    Target(
        name="study_lock",
        schema=LockForm,
        role="data_manager",
        method="post",
        path=lambda c: f"{P}study/lock/",
        setup=lambda s: _web(s, "data_manager", participant=s.fx("randomized")),
        baseline=lambda c: {"reason": "Database lock before analysis"},
        build=lambda c, d, f: LockForm(d),
        stored=lambda c: Lock.objects.order_by("-pk").first(),
        clock="2026-03-16",
        form_key="lock_form",
        weight=0.5,
    ),
    Target(
        name="adverse_event",
        schema=AdverseEventForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/safety/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("randomized")),
        baseline=lambda c: {
            "term": "Headache",
            "onset_date": "2026-03-10",
            "end_date": "",
            "ctcae_grade": "1",
            "serious": "False",
            "related": "False",
            "action_taken": "",
            "outcome": "recovered",
            "learned_at": "",
        },
        build=lambda c, d, f: AdverseEventForm(d),
        stored=_latest(AdverseEvent, participant="participant"),
        defaulted=frozenset({"learned_at"}),
        clock="2026-03-16",
        weight=1.5,
    ),
    Target(
        name="adverse_event_edit",
        schema=AdverseEventEditForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/safety/{c.event.pk}/",
        setup=lambda s: _with_event(s, "coordinator"),
        baseline=lambda c: {
            "term": "Tension headache",
            "onset_date": "2026-03-10",
            "end_date": "2026-03-12",
            "ctcae_grade": "2",
            "serious": "False",
            "related": "False",
            "action_taken": "",
            "outcome": "recovered",
            "learned_at": "",
            "reason": "Term corrected from source",
        },
        build=lambda c, d, f: AdverseEventEditForm(d),
        stored=lambda c: AdverseEvent.objects.get(pk=c.event.pk),
        not_stored=frozenset({"reason"}),
        defaulted=frozenset({"learned_at"}),
        clock="2026-03-16",
    ),
    Target(
        name="adverse_event_confirm",
        schema=ConfirmForm,
        role="investigator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/safety/{c.event.pk}/confirm/",
        setup=lambda s: _with_event(s, "investigator"),
        baseline=lambda c: {},
        build=lambda c, d, f: ConfirmForm(d),
        stored=lambda c: AdverseEvent.objects.get(pk=c.event.pk),
        form_key="confirm_form",
        clock="2026-03-16",
        weight=0.3,
    ),
    Target(
        name="embryo_transfer",
        schema=EmbryoTransferForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/treatment/embryo-transfer/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("randomized")),
        baseline=lambda c: {
            "et_date": "2026-03-01",
            "embryos_transferred": "",
            "embryo_stage": "",
            "embryo_grade": "",
            "reason": "",
        },
        build=lambda c, d, f: EmbryoTransferForm(d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).embryo_transfer,
        not_stored=frozenset({"reason"}),
        form_key="et_form",
        clock="2026-02-25",
    ),
    _dose_target(
        "dose",
        DoseForm,
        "treatment/dose/",
        lambda s: s.fx("transferred"),
        {"date": "2026-02-27", "intake": "morning"},
    ),
    _dose_target(
        "dose_intake",
        DoseIntakeForm,
        "treatment/dose/2026-02-27/evening/",
        lambda s: s.fx("transferred"),
    ),
    _dose_target(
        "dose_correction",
        DoseCorrectionForm,
        "treatment/dose/2026-02-27/evening/",
        _dosed,
        {"time_taken": "20:30", "reason": "Diary card reread"},
    ),
    Target(
        name="dispensing",
        schema=DispensingForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/treatment/dispensing/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("transferred")),
        baseline=lambda c: {"dispensed_on": "2026-02-26", "lot_number": "LOT-42", "capsules": "32"},
        build=lambda c, d, f: DispensingForm(d),
        stored=_latest(Dispensing, participant="participant"),
        form_key="dispensing_form",
        clock="2026-03-05",
    ),
    Target(
        name="drug_return",
        schema=DrugReturnForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/treatment/return/",
        setup=lambda s: _web(s, "coordinator", participant=s.fx("transferred")),
        baseline=lambda c: {"returned_on": "2026-03-15", "capsules": "2"},
        build=lambda c, d, f: DrugReturnForm(d),
        stored=_latest(DrugReturn, participant="participant"),
        form_key="return_form",
        clock="2026-03-16",
    ),
    Target(
        name="visit",
        schema=VisitRecordForm,
        role="coordinator",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/treatment/visit/",
        setup=lambda s: _web(s, "coordinator", participant=_performed(s)),
        baseline=lambda c: {
            "visit_code": "biochemical_pregnancy",
            "outcome": "done",
            "done_on": "2026-03-15",
            "reason": "",
        },
        build=lambda c, d, f: VisitRecordForm(
            d, visits=[(v.window.code, v.name) for v in treatment_of(c.participant).visits]
        ),
        stored=_latest(VisitRecord, participant="participant"),
        form_key="visit_form",
        clock="2026-03-16",
    ),
    Target(
        name="generate_list",
        schema=GenerateListForm,
        role="statistician",
        method="post",
        path=lambda c: "/randomization/generate/",
        setup=lambda s: _web(s, "statistician", study=s.fx("study"), site=s.fx("site_a")),
        baseline=lambda c: {"site": str(c.site.pk), "length": "6", "block_sizes": "3,6"},
        build=lambda c, d, f: GenerateListForm(d, sites=Site.objects.filter(study=c.study)),
        stored=lambda c: RandomizationList.objects.order_by("-pk").first(),
        not_stored=frozenset({"length", "block_sizes"}),
        form_key="generate_form",
        clock="2026-03-16",
        weight=0.5,
    ),
    Target(
        name="import_list",
        schema=ImportListForm,
        role="statistician",
        method="post",
        path=lambda c: "/randomization/import/",
        setup=lambda s: _web(s, "statistician", study=s.fx("study"), site=s.fx("site_a")),
        baseline=lambda c: {"site": str(c.site.pk), "file": _allocation_csv()},
        build=lambda c, d, f: ImportListForm(d, f, sites=Site.objects.filter(study=c.study)),
        stored=lambda c: RandomizationList.objects.order_by("-pk").first(),
        not_stored=frozenset({"file"}),
        form_key="import_form",
        clock="2026-03-16",
    ),
    Target(
        name="extend_list",
        schema=ExtendListForm,
        role="statistician",
        method="post",
        path=lambda c: f"/randomization/{c.randomization_list.pk}/extend/",
        setup=lambda s: _web(
            s,
            "statistician",
            randomization_list=RandomizationList.objects.filter(site=s.fx("site_a")).first(),
        ),
        baseline=lambda c: {"length": "3"},
        build=lambda c, d, f: ExtendListForm(d),
        clock="2026-03-16",
        weight=0.5,
    ),
    Target(
        name="login",
        schema=LoginForm,
        role=None,
        method="post",
        path=lambda c: "/accounts/login/",
        setup=lambda s: _web(s, None, username=s.user("coordinator").username),
        baseline=lambda c: {"username": c.username, "password": PASSWORD},
        build=lambda c, d, f: LoginFields(data=d),
        clock="2026-03-16",
        weight=0.5,
    ),
    Target(
        name="mfa_verify",
        schema=TokenForm,
        role="coordinator",
        method="post",
        path=lambda c: "/accounts/mfa/verify/",
        setup=lambda s: _second_factor_pending(s),
        baseline=lambda c: {"token": "000000"},
        build=lambda c, d, f: TokenForm(d),
        clock="2026-03-16",
        weight=0.5,
    ),
    Target(
        name="password_change",
        schema=StyledPasswordChangeForm,
        role="coordinator",
        method="post",
        path=lambda c: "/accounts/password/",
        setup=lambda s: _web(s, "coordinator"),
        baseline=lambda c: {
            "old_password": PASSWORD,
            "new_password1": "Another-Long-Pass-77!",
            "new_password2": "Another-Long-Pass-77!",
        },
        build=lambda c, d, f: StyledPasswordChangeForm(c.user, d),
        clock="2026-03-16",
        weight=0.5,
    ),
]


#: The query pages read their few fields straight from the POST.
WEB_TARGETS += [
    Target(
        name="query_open",
        schema=QueryOpenForm,
        role="monitor",
        method="post",
        path=lambda c: f"{P}{c.participant.pk}/queries/",
        setup=lambda s: _web(s, "monitor", participant=s.fx("ready_participant")()),
        baseline=lambda c: {
            "target": "consent.consent_date",
            "text": "Please check the date against the signed form.",
            "record_id": "",
        },
        build=lambda c, d, f: QueryOpenForm(d),
        stored=lambda c: QueryMessage.objects.order_by("-pk").first(),
        not_stored=frozenset({"target", "record_id"}),
        expect=lambda cleaned, record: {**cleaned, "text": (cleaned.get("text") or "").strip()},
        clock="2026-03-16",
    ),
    Target(
        name="query_respond",
        schema=QueryStepForm,
        role="coordinator",
        method="post",
        path=lambda c: f"/queries/{c.query.pk}/respond/",
        setup=lambda s: _with_query(s, "coordinator", answered=False, make=_web),
        baseline=lambda c: {"text": "Checked against the signed form: correct."},
        build=lambda c, d, f: QueryStepForm(d),
        stored=_latest(QueryMessage, query="query"),
        # the service keeps the words without their surrounding blanks and tabs
        expect=lambda cleaned, record: {**cleaned, "text": (cleaned.get("text") or "").strip()},
        clock="2026-03-16",
    ),
    Target(
        name="query_reopen",
        schema=QueryStepForm,
        role="monitor",
        method="post",
        path=lambda c: f"/queries/{c.query.pk}/reopen/",
        setup=lambda s: _closed_query(s, make=_web),
        baseline=lambda c: {"text": "The date still disagrees with the source."},
        build=lambda c, d, f: QueryStepForm(d),
        stored=_latest(QueryMessage, query="query"),
        # the service keeps the words without their surrounding blanks and tabs
        expect=lambda cleaned, record: {**cleaned, "text": (cleaned.get("text") or "").strip()},
        clock="2026-03-16",
        weight=0.5,
    ),
]


def _subject_as_stored(cleaned: dict[str, Any], record: Any) -> dict[str, Any]:
    """An export names the participant as her subject id is spelled, whatever the case typed."""
    typed = (cleaned.get("subject_id") or "").strip()
    if typed and typed.lower() == (record.subject_id or "").lower():
        return {**cleaned, "subject_id": record.subject_id}
    return {**cleaned, "subject_id": typed}


WEB_TARGETS.append(
    Target(
        name="export_request",
        schema=ExportRequestForm,
        role="monitor",
        method="post",
        path=lambda c: "/exports/",
        setup=lambda s: _web(s, "monitor", participant=s.fx("randomized")),
        baseline=lambda c: {
            "kind": "audit_trail",
            "format": "csv",
            "site": str(c.participant.site.pk),
            "subject_id": c.participant.subject_id.lower(),
            "since": "2026-02-01",
            "until": "2026-03-16",
        },
        build=lambda c, d, f: ExportRequestForm(d, sites=sites_visible_to(c.user)),
        stored=lambda c: ExportJob.objects.order_by("-created_at").first(),
        expect=_subject_as_stored,
        clock="2026-03-16",
    )
)


def _blinded(scene: Any) -> Ctx:
    study = scene.fx("study")
    study.blinded = True
    study.blinded_roles = ["coordinator", "monitor"]
    study.save(update_fields=["blinded", "blinded_roles"])
    return _web(scene, "investigator", participant=scene.fx("randomized"))


def _locked(scene: Any, make: Any) -> Ctx:
    participant = scene.fx("randomized")
    lock = lock_set(
        study=participant.site.study,
        participant=participant,
        reason="Cleaning finished",
        performed_by=scene.user("data_manager"),
    )
    return make(scene, "data_manager", participant=participant, lock=lock)


def _with_event(scene: Any, role: str) -> Ctx:
    participant = scene.fx("randomized")
    return _web(scene, role, participant=participant, event=_adverse_event(scene, participant))


def _second_factor_pending(scene: Any) -> Ctx:
    """Signed in with a password, the second factor still to give."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = scene.user("coordinator")
    TOTPDevice.objects.get_or_create(user=user, name="test", defaults={"confirmed": True})
    client = Client()
    client.force_login(user)
    return Ctx(client=client, user=user)


# -- the API ---------------------------------------------------------------------------

V1 = "/api/v1/"

API_TARGETS: list[Target] = [
    Target(
        name="api_participant_create",
        operation=("POST", "/api/v1/participants/"),
        schema=api.ParticipantCreateSerializer,
        role="coordinator",
        method="post",
        path=lambda c: f"{V1}participants/",
        setup=lambda s: _api(s, "coordinator", site=s.fx("site_a")),
        baseline=lambda c: {
            "site": "S01",
            "screening_date": "2026-03-10",
            "birth_date": "1990-05-17",
        },
        build=lambda c, d, f: api.ParticipantCreateSerializer(data=d),
        stored=lambda c: Participant.objects.order_by("-pk").first(),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_participant_update",
        operation=("PATCH", "/api/v1/participants/{id}/"),
        schema=api.ParticipantUpdateSerializer,
        role="coordinator",
        method="patch",
        path=lambda c: f"{V1}participants/{c.participant.pk}/",
        setup=lambda s: _api(s, "coordinator", participant=_screened(s)),
        baseline=lambda c: {"birth_date": "1991-06-18", "reason": "Transcription error"},
        build=lambda c, d, f: api.ParticipantUpdateSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk),
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_eligibility",
        operation=("PUT", "/api/v1/participants/{id}/eligibility/"),
        schema=api.EligibilityInputSerializer,
        role="coordinator",
        method="put",
        path=lambda c: f"{V1}participants/{c.participant.pk}/eligibility/",
        setup=lambda s: _api(s, "coordinator", participant=_screened(s)),
        baseline=lambda c: _json_answers(),
        build=lambda c, d, f: api.EligibilityInputSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).eligibility,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        weight=1.5,
        api=True,
    ),
    Target(
        name="api_consent",
        operation=("POST", "/api/v1/participants/{id}/consent/"),
        schema=api.ConsentInputSerializer,
        role="coordinator",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/consent/",
        setup=lambda s: _api(s, "coordinator", participant=_assessed(s)),
        baseline=lambda c: {"consent_date": "2026-03-14", "consent_version": "1.0"},
        build=lambda c, d, f: api.ConsentInputSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).consent,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_embryo_transfer",
        operation=("PUT", "/api/v1/participants/{id}/embryo-transfer/"),
        schema=api.EmbryoTransferInputSerializer,
        role="coordinator",
        method="put",
        path=lambda c: f"{V1}participants/{c.participant.pk}/embryo-transfer/",
        setup=lambda s: _api(s, "coordinator", participant=s.fx("randomized")),
        baseline=lambda c: {"et_date": "2026-03-01", "performed": False},
        build=lambda c, d, f: api.EmbryoTransferInputSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).embryo_transfer,
        not_stored=frozenset({"reason"}),
        clock="2026-02-25",
        api=True,
    ),
    Target(
        name="api_dose",
        operation=("POST", "/api/v1/participants/{id}/doses/"),
        schema=api.DoseInputSerializer,
        role="coordinator",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/doses/",
        setup=lambda s: _api(s, "coordinator", participant=s.fx("transferred")),
        baseline=lambda c: {
            "date": "2026-02-27",
            "dose_mg": _arm_dose(c.participant),
            "taken": True,
        },
        build=lambda c, d, f: api.DoseInputSerializer(data=d),
        stored=_latest(DoseEntry, participant="participant"),
        defaulted=frozenset({"capsules"}),
        expect=_evening_share_of_a_day,
        clock="2026-03-05",
        api=True,
    ),
    Target(
        name="api_biochemical_pregnancy",
        operation=("PUT", "/api/v1/participants/{id}/biochemical-pregnancy/"),
        schema=api.BiochemicalPregnancyInputSerializer,
        role="coordinator",
        method="put",
        path=lambda c: f"{V1}participants/{c.participant.pk}/biochemical-pregnancy/",
        setup=lambda s: _api(s, "coordinator", participant=_performed(s)),
        baseline=lambda c: {
            "assessed_on": "2026-03-15",
            "serum_hcg_miu_ml": "250.00",
            "result": "positive",
        },
        build=lambda c, d, f: api.BiochemicalPregnancyInputSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).biochemical_pregnancy,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_clinical_pregnancy",
        operation=("PUT", "/api/v1/participants/{id}/clinical-pregnancy/"),
        schema=api.ClinicalPregnancyInputSerializer,
        role="coordinator",
        method="put",
        path=lambda c: f"{V1}participants/{c.participant.pk}/clinical-pregnancy/",
        setup=lambda s: _api(s, "coordinator", participant=_performed(s)),
        baseline=lambda c: {
            "assessed_on": "2026-03-22",
            "gestational_sac_seen": True,
            "result": "positive",
            "number_of_sacs": 1,
            "fetal_heartbeat": True,
        },
        build=lambda c, d, f: api.ClinicalPregnancyInputSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).clinical_pregnancy,
        not_stored=frozenset({"reason"}),
        clock="2026-03-23",
        api=True,
    ),
    Target(
        name="api_withdraw",
        operation=("POST", "/api/v1/participants/{id}/withdraw/"),
        schema=api.WithdrawInputSerializer,
        role="coordinator",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/withdraw/",
        setup=lambda s: _api(s, "coordinator", participant=s.fx("transferred")),
        baseline=lambda c: {"date": "2026-03-15", "reason": "Moved to another prefecture"},
        build=lambda c, d, f: api.WithdrawInputSerializer(data=d),
        stored=lambda c: Participant.objects.get(pk=c.participant.pk).withdrawal,
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_adverse_event",
        operation=("POST", "/api/v1/participants/{id}/adverse-events/"),
        schema=api.AdverseEventInputSerializer,
        role="coordinator",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/adverse-events/",
        setup=lambda s: _api(s, "coordinator", participant=s.fx("randomized")),
        baseline=lambda c: {
            "term": "Headache",
            "onset_date": "2026-03-10",
            "ctcae_grade": 1,
            "serious": False,
            "related": False,
            "outcome": "recovered",
        },
        build=lambda c, d, f: api.AdverseEventInputSerializer(data=d),
        stored=_latest(AdverseEvent, participant="participant"),
        defaulted=frozenset({"learned_at"}),
        clock="2026-03-16",
        weight=1.5,
        api=True,
    ),
    Target(
        name="api_verification",
        operation=("POST", "/api/v1/participants/{id}/forms/{code}/verification/"),
        schema=api_review.VerificationInputSerializer,
        role="monitor",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/forms/eligibility/verification/",
        setup=lambda s: _api(s, "monitor", participant=s.fx("randomized")),
        baseline=lambda c: {"fields": ["th1_th2_ratio"]},
        build=lambda c, d, f: api_review.VerificationInputSerializer(data=d),
        stored=_latest(Verification, participant="participant"),
        not_stored=frozenset({"fields"}),
        defaulted=frozenset({"record_id"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_lock",
        operation=("POST", "/api/v1/participants/{id}/lock/"),
        schema=api.LockInputSerializer,
        role="data_manager",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/lock/",
        setup=lambda s: _api(s, "data_manager", participant=s.fx("randomized")),
        baseline=lambda c: {"reason": "Data cleaning finished"},
        build=lambda c, d, f: api.LockInputSerializer(data=d),
        stored=lambda c: Lock.objects.order_by("-pk").first(),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_unlock",
        operation=("DELETE", "/api/v1/participants/{id}/lock/"),
        schema=api.UnlockInputSerializer,
        role="data_manager",
        method="delete",
        path=lambda c: f"{V1}participants/{c.participant.pk}/lock/",
        setup=lambda s: _locked(s, _api),
        baseline=lambda c: {"reason": "Query answered late; reopened"},
        build=lambda c, d, f: api.UnlockInputSerializer(data=d),
        stored=lambda c: c.lock,
        not_stored=frozenset({"reason"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_signature",
        operation=("POST", "/api/v1/participants/{id}/signature/"),
        schema=api.SignatureInputSerializer,
        role="investigator",
        method="post",
        path=lambda c: f"{V1}participants/{c.participant.pk}/signature/",
        setup=lambda s: _api(s, "investigator", participant=s.fx("randomized")),
        baseline=lambda c: {"password": PASSWORD, "meaning": "I approve this casebook"},
        build=lambda c, d, f: api.SignatureInputSerializer(data=d),
        stored=_latest(Signature, participant="participant"),
        not_stored=frozenset({"password"}),
        defaulted=frozenset({"meaning"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_query_open",
        operation=("POST", "/api/v1/queries/"),
        schema=api_queries.QueryOpenSerializer,
        role="monitor",
        method="post",
        path=lambda c: f"{V1}queries/",
        setup=lambda s: _api(s, "monitor", participant=s.fx("ready_participant")()),
        baseline=lambda c: {
            "participant": c.participant.pk,
            "record": "consent",
            "field": "consent_date",
            "text": "Please check the date against the signed form.",
        },
        build=lambda c, d, f: api_queries.QueryOpenSerializer(data=d),
        stored=lambda c: Query.objects.order_by("-pk").first(),
        not_stored=frozenset({"participant", "text", "record_id"}),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_query_respond",
        operation=("POST", "/api/v1/queries/{id}/respond/"),
        schema=api_queries.QueryTextSerializer,
        role="coordinator",
        method="post",
        path=lambda c: f"{V1}queries/{c.query.pk}/respond/",
        setup=lambda s: _with_query(s, "coordinator", answered=False),
        baseline=lambda c: {"text": "Checked against the signed form: correct."},
        build=lambda c, d, f: api_queries.QueryTextSerializer(data=d),
        stored=_latest(QueryMessage, query="query"),
        clock="2026-03-16",
        api=True,
    ),
    Target(
        name="api_query_close",
        operation=("POST", "/api/v1/queries/{id}/close/"),
        schema=api_queries.QueryOptionalTextSerializer,
        role="monitor",
        method="post",
        path=lambda c: f"{V1}queries/{c.query.pk}/close/",
        setup=lambda s: _with_query(s, "monitor", answered=True),
        baseline=lambda c: {"text": "Resolved."},
        build=lambda c, d, f: api_queries.QueryOptionalTextSerializer(data=d),
        stored=_latest(QueryMessage, query="query"),
        clock="2026-03-16",
        api=True,
    ),
]


def _with_query(scene: Any, role: str, *, answered: bool, make: Any = None) -> Ctx:
    participant = scene.fx("ready_participant")()
    query = _query(scene, participant, answered=answered)
    return (make or _api)(scene, role, participant=participant, query=query)


def _closed_query(scene: Any, make: Any = None) -> Ctx:
    ctx = _with_query(scene, "monitor", answered=True, make=make)
    query_close(query=ctx.query, text="", performed_by=scene.user("monitor"))
    return ctx


API_TARGETS.append(
    Target(
        name="api_query_reopen",
        operation=("POST", "/api/v1/queries/{id}/reopen/"),
        schema=api_queries.QueryTextSerializer,
        role="monitor",
        method="post",
        path=lambda c: f"{V1}queries/{c.query.pk}/reopen/",
        setup=_closed_query,
        baseline=lambda c: {"text": "The date still disagrees with the source."},
        build=lambda c, d, f: api_queries.QueryTextSerializer(data=d),
        stored=_latest(QueryMessage, query="query"),
        clock="2026-03-16",
        api=True,
    )
)

API_TARGETS.append(
    Target(
        name="api_export_request",
        operation=("POST", "/api/v1/exports/"),
        schema=exports_api.ExportRequestSerializer,
        role="monitor",
        method="post",
        path=lambda c: f"{V1}exports/",
        setup=lambda s: _api(s, "monitor", participant=s.fx("randomized")),
        baseline=lambda c: {
            "kind": "clinical_data",
            "format": "csv",
            "site": "S01",
            "subject_id": c.participant.subject_id,
            "since": None,
            "until": "2026-03-16",
        },
        build=lambda c, d, f: exports_api.ExportRequestSerializer(data=d),
        stored=lambda c: ExportJob.objects.order_by("-created_at").first(),
        expect=_subject_as_stored,
        clock="2026-03-16",
        api=True,
    )
)


def _account_names() -> list[str]:
    return list(User.objects.order_by("username").values_list("username", flat=True))


def _with_account_to_change(scene: Any, make: Any) -> Ctx:
    scene.user("monitor")
    return make(scene, "admin")


WEB_TARGETS.append(
    Target(
        name="access_review",
        schema=AccessReviewForm,
        role="admin",
        method="post",
        path=lambda c: "/accounts/access-review/",
        setup=lambda s: _with_account_to_change(s, _web),
        baseline=lambda c: {
            "reviewed_on": "2026-03-15",
            "comment": "Quarterly review of every account.",
            f"change_{_account_names()[0]}": "Deactivate: left the study team",
        },
        build=lambda c, d, f: AccessReviewForm(d, usernames=_account_names()),
        stored=lambda c: AccessReview.objects.order_by("-pk").first(),
        clock="2026-03-16",
    )
)

API_TARGETS.append(
    Target(
        name="api_access_review",
        operation=("POST", "/api/v1/access-reviews/"),
        schema=api_access.AccessReviewInputSerializer,
        role="admin",
        method="post",
        path=lambda c: f"{V1}access-reviews/",
        setup=lambda s: _with_account_to_change(s, _api),
        baseline=lambda c: {
            "reviewed_on": "2026-03-15",
            "comment": "Quarterly review of every account.",
            "accounts_to_change": [
                {"username": _account_names()[0], "change": "Deactivate: left the study team"}
            ],
        },
        build=lambda c, d, f: api_access.AccessReviewInputSerializer(data=d),
        stored=lambda c: AccessReview.objects.order_by("-pk").first(),
        not_stored=frozenset({"accounts_to_change"}),
        defaulted=frozenset({"accounts_to_change"}),
        clock="2026-03-16",
        api=True,
    )
)


def _audit_reviewer(scene: Any, make: Any) -> Ctx:
    _assessed(scene)
    return make(scene, "monitor")


WEB_TARGETS += [
    Target(
        name="audit_filter",
        schema=AuditFilterForm,
        role="monitor",
        method="get",
        path=lambda c: "/audit/",
        setup=lambda s: _audit_reviewer(s, _web),
        baseline=lambda c: {
            "site": "S01",
            "user": "coordinator",
            "since": "2026-01-01",
            "until": "2026-12-31",
            "signal": "late_entry",
        },
        build=lambda c, d, f: AuditFilterForm(d, user=c.user),
        clock="2026-03-16",
        weight=0.5,
        saves=False,
    ),
    Target(
        name="audit_sign_off",
        schema=AuditReviewForm,
        role="monitor",
        method="post",
        path=lambda c: "/audit/reviews/",
        setup=lambda s: _audit_reviewer(s, _web),
        baseline=lambda c: {
            "site": "S01",
            "through": "2026-03-15T18:00+09:00",
            "comment": "Every change of the week reviewed.",
        },
        build=lambda c, d, f: AuditReviewForm(d, user=c.user),
        stored=lambda c: AuditReview.objects.order_by("-pk").first(),
        clock="2026-03-16",
        form_key="review_form",
    ),
]

API_TARGETS.append(
    Target(
        name="api_audit_review",
        operation=("POST", "/api/v1/audit-reviews/"),
        schema=api_audit.AuditReviewInputSerializer,
        role="monitor",
        method="post",
        path=lambda c: f"{V1}audit-reviews/",
        setup=lambda s: _audit_reviewer(s, _api),
        baseline=lambda c: {
            "site": "S01",
            "through": "2026-03-15T18:00:00+09:00",
            "comment": "Every change of the week reviewed.",
        },
        build=lambda c, d, f: api_audit.AuditReviewInputSerializer(data=d),
        stored=lambda c: AuditReview.objects.order_by("-pk").first(),
        clock="2026-03-16",
        api=True,
    )
)

#: A query closed from its page, with the monitor's note (the page's other steps above).
WEB_TARGETS.append(
    Target(
        name="query_close",
        schema=QueryStepForm,
        role="monitor",
        method="post",
        path=lambda c: f"/queries/{c.query.pk}/close/",
        setup=lambda s: _with_query(s, "monitor", answered=True, make=_web),
        baseline=lambda c: {"text": "Resolved: the date matches the signed form."},
        build=lambda c, d, f: QueryStepForm(d),
        stored=_latest(QueryMessage, query="query"),
        # the service keeps a closing note without its surrounding blanks (none: empty)
        expect=lambda cleaned, record: {**cleaned, "text": (cleaned.get("text") or "").strip()},
        clock="2026-03-16",
        weight=0.5,
    )
)

TARGETS = WEB_TARGETS + API_TARGETS + ADMIN_TARGETS

#: Forms and serializers that take no input from a client, and why.
NOT_INPUTS: dict[type, str] = {
    api.EligibilitySerializer: "answer of PUT eligibility (schemathesis checks answers)",
    api.ConsentSerializer: "answer of POST consent",
    api.AllocationSerializer: "answer of POST randomize",
    api.VisitWindowSerializer: "part of the schedule answer",
    api.ScheduleSerializer: "answer of PUT embryo-transfer",
    api.DoseSerializer: "answer of POST doses",
    api.DoseDaySerializer: "answer of POST doses for a whole day",
    api.EndpointAnswerSerializer: "answer of the endpoint PUTs",
    api.LockSerializer: "answer of POST/DELETE lock",
    api.SignatureSerializer: "answer of POST signature",
    api.ParticipantSerializer: "answer of the participant endpoints",
    api.AdverseEventSerializer: "answer of POST adverse-events",
    api_queries.QuerySerializer: "answer of the query endpoints",
    api_queries.QueryMessageSerializer: "part of the query answer",
    exports_api.ExportJobSerializer: "answer of the export endpoints",
    reports_api.EfficacyReportSerializer: "answer of GET reports/efficacy",
    reports_api.EndpointsSerializer: "part of the efficacy report",
    reports_api.EndpointResultSerializer: "part of the efficacy report",
    reports_api.ArmResultSerializer: "part of the efficacy report",
    api_forms.CatalogueFormSerializer: "answer of GET forms",
    api_review.FormRecordsSerializer: "answer of GET a participant's form",
    api_review.RecordSerializer: "part of the answer of GET a participant's form",
    api_review.MarkSerializer: "part of the answer of GET a participant's form",
    api_review.VerificationSerializer: "answer of POST verification",
    api_forms.CatalogueFieldSerializer: "part of the form catalogue",
    api_forms.ChoiceSerializer: "part of the form catalogue",
    api_access.AccountAccessSerializer: "answer of GET access-review",
    api_access.GrantSerializer: "part of the answer of GET access-review",
    api_access.ApiKeySerializer: "part of the answer of GET access-review",
    api_keys.ApiKeySummarySerializer: "answer of GET api-keys",
    api_access.AccessReviewSerializer: "answer of the access-reviews endpoints",
    api_access.AccountChangeSerializer: "part of POST access-reviews (examined there)",
    api_audit.AuditEventSerializer: "part of the answer of GET audit-events",
    api_audit.AuditEventPageSerializer: "answer of GET audit-events",
    api_audit.AuditReviewSerializer: "answer of the audit-reviews endpoints",
}

#: Input serializers no route takes (kept for a planned endpoint); listed so that
#: wiring one to a route without a hostile target fails the coverage test.
UNROUTED: dict[type, str] = {
    api.UnblindInputSerializer: "no API route unblinds; the page does (target 'unblind')",
}


def examined_classes() -> set[type]:
    return {t.schema for t in TARGETS}


def is_form(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, forms.BaseForm)


def is_serializer(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, serializers.BaseSerializer)
