"""The catalogue of the study's case report forms: every form, every field, declared once.

Plain frozen dataclasses and one tuple, :data:`FORMS`, in the order of the trial. Each
form names its model, the visit it belongs to, whether a participant has one or many of
it, and its fields as the API spells them, with their unit, whether site staff enter
them (a monitor verifies and queries those), whether they are critical for
verification, whether they reveal the allocated arm, their SAS name and their SDTM
mapping. Labels, types and code lists are read from the model field the name points
to (its translatable ``verbose_name`` and ``choices``), so a label exists once and is
translated once.

Everything that lists forms or fields reads this module: the database guard, queries
and verification, allocation concealment, the data dictionary, the ODM metadata, the
SAS transport names, the API's form routes and the labels of the audit trail.
Records kept beside the forms (the status log, unblindings, edit-check findings) and
the randomization lists are here too, marked as such, so that every model holding
participant data, and every model whose history is concealed, is named once.
The study's settings are declared here too (:data:`STUDY_SETTINGS`), each with what it
governs, which decides whether it may change while the study database is locked, and so
are the tables whose rows are part of the study's design (:data:`STUDY_DESIGN_TABLES`)
and the tables the database keeps from the data for the summarising pages
(:data:`KEPT_COUNTS`).

This module imports no model: models are named by their label and looked up only
when a label, type or code list is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .rules import (
    AtLeast,
    ChoiceNeedsYes,
    ChoiceRefusedWithYes,
    DaysAfterWithin,
    Described,
    NotBefore,
    NotInFuture,
    Required,
    Rule,
)

if TYPE_CHECKING:
    from django.db import models

#: What a catalogue entry is: a case report form, a record kept beside the forms for one
#: participant, or a record of the study that holds no participant's data.
Kind = Literal["form", "participant_record", "study_record"]

#: What a page's address takes, in order: her id, the form's code, the row's id.
PageArgument = Literal["participant", "form", "record"]


@dataclass(frozen=True)
class Visit:
    """A visit (ODM study event) of the schedule, or the forms common to all visits."""

    code: str
    label: Promise
    scheduled: bool = True


@dataclass(frozen=True)
class Field:
    """One field of a form.

    ``name`` is the model field's name, which is also the name the API, the exports and
    the audit trail use. ``entered`` marks the values site staff type from source
    documents: a monitor verifies them and raises queries on them. ``critical`` puts
    them first in source data verification. ``concealed`` marks the field that names
    the allocated arm; ``reveals_arm`` a value that tells it without naming it (the dose
    of an intake, a count of capsules, which differ by arm): blinded roles see neither.
    ``rules`` are what a value must meet, in the order they are checked (the first
    broken one is reported). ``sas`` is
    its SAS v5 variable name in the form's dataset; ``sdtm`` names the SDTM variables
    (``DOMAIN.VARIABLE``) its value is submitted in as collected (the SDTM export's
    specification says how each is derived).
    """

    name: str
    sas: str
    unit: Promise | None = None
    entered: bool = False
    critical: bool = False
    concealed: bool = False
    reveals_arm: bool = False
    rules: tuple[Rule, ...] = ()
    sdtm: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    """One case report form (or record kept beside the forms) and how it is stored.

    ``participant_path`` is the ORM path from a row to its participant (empty for the
    participant herself). ``date_field`` is the form's own date, if it has one;
    ``recorded_field`` the time a row was saved, used when it has no date of its own.
    ``filters`` narrows the model's rows to those that are participant data (a
    randomization slot only once allocated). ``bookkeeping`` names the model's columns
    that are not part of the form (list internals, who saved it: the audit trail holds
    those). ``history_concealed`` keeps the form's rows and history from anyone who may
    not see the randomization lists (allocation concealment). ``edit_page`` names the
    page (URL name) where site staff enter and correct it, reversed with
    ``edit_page_arguments`` (see :meth:`edit_page_args`).
    """

    code: str
    model: str
    kind: Kind = "form"
    visit: str = "common"
    multi_record: bool = False
    fields: tuple[Field, ...] = ()
    participant_path: str = "participant"
    date_field: str = ""
    recorded_field: str = ""
    sas_dataset: str = ""
    filters: tuple[tuple[str, Any], ...] = ()
    bookkeeping: tuple[str, ...] = ()
    history_concealed: bool = False
    edit_page: str = ""
    edit_page_arguments: tuple[PageArgument, ...] = ("participant",)

    def edit_page_args(self, participant_id: int, record_id: int | None) -> list[Any]:
        """The arguments of :attr:`edit_page` for her row ``record_id`` of this form."""
        values: dict[str, Any] = {
            "participant": participant_id,
            "form": self.code,
            "record": record_id,
        }
        return [values[name] for name in self.edit_page_arguments]

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    @property
    def label(self) -> Any:
        """The form's name in the active language (its model's ``verbose_name``)."""
        return self.model_class._meta.verbose_name

    @property
    def is_crf(self) -> bool:
        return self.kind == "form"

    @property
    def holds_participant_data(self) -> bool:
        return self.kind != "study_record"

    @property
    def queryable(self) -> bool:
        """A monitor raises queries on (and verifies) its entered fields."""
        return any(f.entered for f in self.fields)

    @property
    def entered_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.entered)

    @property
    def required_answers(self) -> tuple[str, ...]:
        """The fields every save of the form must answer."""
        return tuple(f.name for f in self.fields if any(isinstance(r, Required) for r in f.rules))

    def errors(self, values: Mapping[str, Any], **anchors: Any) -> dict[str, str]:
        """The first broken rule of each field given in ``values``, in words, by field.

        ``anchors`` are the dates the rules compare with (``today`` at the site, her
        ``screening_date``...); the form's own values are anchors too.
        """
        context = {**anchors, **values}
        found: dict[str, str] = {}
        for entry in self.fields:
            if entry.name not in values:
                continue
            for rule in entry.rules:
                message = rule.error(values[entry.name], context)
                if message is not None:
                    found[entry.name] = message
                    break
        return found

    def validate(self, values: Mapping[str, Any], **anchors: Any) -> None:
        """Refuse (``ValidationError``, by field) values that break a rule of the form."""
        found = self.errors(values, **anchors)
        if found:
            raise ValidationError(found)

    @property
    def participant_accessor(self) -> str:
        """The participant's attribute holding this form (one row, or a related manager)."""
        relation = self.model_class._meta.get_field(self.participant_path)
        return str(relation.remote_field.get_accessor_name())  # type: ignore[union-attr]

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.code}.{name}")

    def model_field(self, name: str) -> models.Field[Any, Any]:
        return self.model_class._meta.get_field(name)  # type: ignore[return-value]

    def records_of(self, participant: Any) -> models.QuerySet[Any]:
        """Her rows of this form, in the order of the form's date, then as saved."""
        rows = self.model_class._default_manager.filter(**dict(self.filters))
        if self.participant_path:
            rows = rows.filter(**{self.participant_path: participant})
        else:
            rows = rows.filter(pk=participant.pk)
        order = [self.date_field] if self.date_field else []
        return rows.order_by(*order, "pk")


#: The visits of the trial, in order; a form's ``visit`` names one of them.
VISITS: tuple[Visit, ...] = (
    Visit("screening", _("Screening")),
    Visit("randomization", _("Randomization")),
    Visit("treatment", _("Embryo transfer and treatment")),
    Visit("biochemical_pregnancy", _("Biochemical pregnancy")),
    Visit("clinical_pregnancy", _("Clinical pregnancy")),
    Visit("common", _("Common forms"), scheduled=False),
)

_SITE_UNIT = _("as given in the field unit (the site's laboratory unit)")


_SCREENING = _("screening")
_NOT_FUTURE = NotInFuture()
_ASSESSED = NotInFuture(_("The assessment cannot be in the future."))


def _answer(name: str, sas: str, *rules: Rule) -> Field:
    """An eligibility answer: entered, critical, and required on every save."""
    return Field(name, sas, entered=True, critical=True, rules=(Required(), *rules))


#: Every form and record of the study, in the order of the trial.

#: When the embryo transfer may be: the study's minimum to maximum days after
#: randomization. Dosing starts before the transfer (ET-2) and cannot come before
#: allocation, so the transfer cannot come sooner.
EMBRYO_TRANSFER_AFTER_RANDOMIZATION = DaysAfterWithin(
    anchor="randomization_date",
    anchor_label=_("randomization"),
    min_days="min_days_randomization_to_et",
    max_days="max_days_randomization_to_et",
    why_earliest=_(
        "dosing starts two days before the transfer and cannot come before randomization"
    ),
)

FORMS: tuple[Form, ...] = (
    Form(
        "participant",
        "participants.Participant",
        visit="screening",
        participant_path="",
        date_field="screening_date",
        recorded_field="registered_at",
        sas_dataset="SUBJECT",
        bookkeeping=("id", "site", "subject_number", "subject_id", "registered_by"),
        fields=(
            Field(
                "screening_date",
                "SCREENIN",
                sdtm=("SV.SVSTDTC", "SV.SVENDTC"),
                rules=(NotInFuture(_("The screening date cannot be in the future.")),),
            ),
            Field("birth_date", "BIRTHDAT"),
            Field("status", "STATUS"),
            Field("registered_at", "REGISTER"),
        ),
    ),
    Form(
        "status",
        "participants.StatusChange",
        kind="participant_record",
        recorded_field="changed_at",
    ),
    Form(
        "eligibility",
        "participants.Eligibility",
        edit_page="participants:eligibility",
        visit="screening",
        recorded_field="updated_at",
        sas_dataset="ELIG",
        bookkeeping=("id", "participant", "assessed_by"),
        fields=(
            _answer("prior_good_quality_transfers", "PRIORET"),
            _answer("prior_embryos_transferred", "PRIOREMB"),
            _answer("prior_biochemical_pregnancy", "PRIORBIO"),
            _answer("other_infertility_factor", "OTHERINF"),
            _answer(
                "th1_th2_ratio",
                "TH1TH2",
                AtLeast(_("The Th1/Th2 ratio cannot be negative.")),
            ),
            Field(
                "th1_th2_sample_date",
                "TH1TH2DT",
                entered=True,
                rules=(
                    NotInFuture(_("The sample date cannot be in the future.")),
                    NotBefore(
                        _("The sample date cannot be before her date of birth."),
                        anchor="birth_date",
                        anchor_label=_("her date of birth"),
                    ),
                ),
            ),
            Field("th1_th2_laboratory", "TH1TH2LB", entered=True),
            _answer("frozen_embryos_available", "FROZENEM"),
            _answer("able_to_attend_visits", "ABLETOAT"),
            _answer("antiphospholipid_syndrome", "ANTIPHOS"),
            _answer("coagulation_abnormality", "COAGULAT"),
            _answer("thyroid_dysfunction", "THYROIDD"),
            _answer("other_pregnancy_loss_factor", "OTHERPRE"),
            _answer("tacrolimus_contraindication", "TACROLIM"),
            _answer("pregnant", "PREGNANT"),
            _answer("investigator_judges_unsuitable", "INVESTIG"),
            Field(
                "age_at_assessment",
                "AGEATASS",
                unit=_("years"),
                critical=True,
                rules=(
                    Described(
                        text=_(
                            "Counted from the date of birth at consent, or at screening "
                            "before consent."
                        )
                    ),
                ),
            ),
            Field("eligible", "ELIGIBLE", critical=True),
            Field("failed_criteria", "FAILEDCR"),
            Field("updated_at", "UPDATEDA"),
        ),
    ),
    Form(
        "consent",
        "participants.Consent",
        edit_page="participants:consent",
        visit="screening",
        date_field="consent_date",
        recorded_field="updated_at",
        sas_dataset="CONSENT",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field(
                "consent_date",
                "CONSENTD",
                sdtm=("DM.RFICDTC", "DS.DSSTDTC"),
                entered=True,
                critical=True,
                rules=(
                    NotBefore(
                        _("Consent cannot be dated before screening (%(date)s)."),
                        anchor="screening_date",
                        anchor_label=_SCREENING,
                    ),
                    NotInFuture(_("The consent date cannot be in the future.")),
                ),
            ),
            Field(
                "consent_version",
                "CONSENTV",
                entered=True,
                critical=True,
                rules=(Described(text=_("A consent form version in use (study setting).")),),
            ),
            Field("updated_at", "UPDATEDA"),
        ),
    ),
    Form(
        "unblinding",
        "participants.Unblinding",
        kind="participant_record",
        recorded_field="unblinded_at",
    ),
    Form(
        "randomization_list",
        "randomization.RandomizationList",
        kind="study_record",
        participant_path="",
        history_concealed=True,
    ),
    Form(
        "randomization",
        "randomization.Slot",
        visit="randomization",
        date_field="allocated_at",
        sas_dataset="RAND",
        filters=(("participant__isnull", False),),
        bookkeeping=(
            "id",
            "randomization_list",
            "sequence",
            "block",
            "block_size",
            "participant",
            "allocated_by",
        ),
        history_concealed=True,
        fields=(
            Field("arm", "ARM", critical=True, concealed=True),
            Field("randomization_number", "RANDNO", critical=True),
            Field("allocated_at", "ALLOCATE", critical=True),
        ),
    ),
    Form(
        "withdrawal",
        "participants.Withdrawal",
        date_field="date",
        recorded_field="recorded_at",
        sas_dataset="WITHDRAW",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field(
                "date",
                "DATE",
                sdtm=("DS.DSSTDTC",),
                rules=(
                    NotBefore(
                        _("The withdrawal cannot be dated before screening."),
                        anchor="screening_date",
                        anchor_label=_SCREENING,
                    ),
                    NotInFuture(_("The withdrawal cannot be dated in the future.")),
                ),
            ),
            Field(
                "reason",
                "REASON",
                sdtm=("DS.DSTERM",),
                rules=(Required(_("Give the reason for the withdrawal.")),),
            ),
            Field("decided_by", "DECIDEDB", sdtm=("DS.DSDECOD",)),
            Field("recorded_at", "RECORDED"),
        ),
    ),
    Form(
        "embryo_transfer",
        "schedule.EmbryoTransfer",
        edit_page="schedule:treatment",
        visit="treatment",
        date_field="et_date",
        recorded_field="updated_at",
        sas_dataset="ET",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field(
                "et_date",
                "ETDATE",
                sdtm=("PR.PRSTDTC",),
                entered=True,
                rules=(
                    EMBRYO_TRANSFER_AFTER_RANDOMIZATION,
                    Described(text=_("Moving it needs a reason and recomputes the schedule.")),
                ),
            ),
            Field(
                "performed",
                "PERFORME",
                sdtm=("PR.PROCCUR",),
                entered=True,
                rules=(
                    Described(
                        text=_("A transfer dated in the future cannot be recorded as performed.")
                    ),
                ),
            ),
            Field(
                "embryos_transferred",
                "EMBRYOST",
                sdtm=("SUPPPR.QVAL",),
                unit=_("embryos"),
                entered=True,
            ),
            Field("embryo_stage", "EMBRYOS2", sdtm=("SUPPPR.QVAL",), entered=True),
            Field("embryo_grade", "EMBRYOGR", sdtm=("SUPPPR.QVAL",), entered=True),
            Field("updated_at", "UPDATEDA"),
        ),
    ),
    Form(
        "dose",
        "schedule.DoseEntry",
        edit_page="schedule:treatment",
        visit="treatment",
        multi_record=True,
        date_field="date",
        recorded_field="recorded_at",
        sas_dataset="DOSE",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field(
                "date",
                "DATE",
                sdtm=("EC.ECSTDTC", "EC.ECENDTC", "EX.EXSTDTC", "EX.EXENDTC"),
                entered=True,
                rules=(
                    Described(
                        text=_(
                            "Inside the dosing window (from the embryo transfer, study "
                            "setting); not in the future."
                        )
                    ),
                ),
            ),
            Field(
                "intake",
                "INTAKE",
                sdtm=("EC.ECTPT", "EX.EXTPT"),
                entered=True,
                rules=(
                    Described(
                        text=_(
                            "Morning or evening; each intake of a day is recorded once, then "
                            "corrected with a reason."
                        )
                    ),
                ),
            ),
            Field("taken", "TAKEN", sdtm=("EC.ECOCCUR",), entered=True),
            Field(
                "dose_mg",
                "DOSEMG",
                sdtm=("EC.ECDOSE", "EX.EXDOSE"),
                unit=_("mg"),
                entered=True,
                reveals_arm=True,
                rules=(
                    Described(
                        text=_(
                            "The arm's dose for one intake (half the daily dose) in whole "
                            "capsules unless recorded as a deviation; more than 0 mg when "
                            "taken, 0 mg when missed."
                        )
                    ),
                ),
            ),
            Field(
                "capsules",
                "CAPSULES",
                unit=_("capsules"),
                entered=True,
                reveals_arm=True,
                rules=(Described(text=_("The dose divided by the capsule strength.")),),
            ),
            Field(
                "time_taken",
                "TIMETAKE",
                sdtm=("EC.ECSTDTC", "EC.ECENDTC", "EX.EXSTDTC", "EX.EXENDTC"),
                entered=True,
                rules=(Described(text=_("When the intake was taken; none when missed.")),),
            ),
            Field(
                "missed_reason",
                "MISSREAS",
                sdtm=("EC.ECREASOC",),
                entered=True,
                rules=(
                    Described(
                        text=_(
                            "Why the intake was missed: asked on every missed intake entered "
                            "on the diary page; none when taken."
                        )
                    ),
                ),
            ),
            Field("comment", "COMMENT", entered=True),
            Field("deviation", "DEVIATIO"),
            Field("deviation_reason", "DEVREASN"),
            Field("recorded_at", "RECORDED"),
        ),
    ),
    Form(
        "dispensing",
        "schedule.Dispensing",
        visit="treatment",
        multi_record=True,
        date_field="dispensed_on",
        sas_dataset="DISPENSE",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field("dispensed_on", "DISPENSE", rules=(_NOT_FUTURE,)),
            Field("lot_number", "LOTNUMBE", rules=(Required(_("The lot number is required.")),)),
            Field(
                "capsules",
                "CAPSULES",
                unit=_("capsules"),
                reveals_arm=True,
                rules=(AtLeast(_("At least one capsule is dispensed."), minimum=1),),
            ),
        ),
    ),
    Form(
        "drug_return",
        "schedule.DrugReturn",
        visit="treatment",
        multi_record=True,
        date_field="returned_on",
        sas_dataset="DRUGRET",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field("returned_on", "RETURNED", rules=(_NOT_FUTURE,)),
            Field(
                "capsules",
                "CAPSULES",
                unit=_("capsules"),
                reveals_arm=True,
                rules=(AtLeast(_("The count cannot be negative.")),),
            ),
        ),
    ),
    Form(
        "visit",
        "schedule.VisitRecord",
        multi_record=True,
        date_field="done_on",
        sas_dataset="VISIT",
        # A reason the system wrote is kept in English in ``reason``; its code and
        # parameters only render it again in each reader's language.
        bookkeeping=("id", "participant", "recorded_by", "reason_code", "reason_params"),
        fields=(
            Field(
                "visit_code",
                "VISITCOD",
                rules=(Described(text=_("A visit of the study's schedule.")),),
            ),
            Field("outcome", "OUTCOME", sdtm=("SV.SVOCCUR",)),
            Field("done_on", "DONEON", sdtm=("SV.SVSTDTC", "SV.SVENDTC"), rules=(_NOT_FUTURE,)),
            Field("reason", "REASON", sdtm=("SV.SVREASOC",)),
        ),
    ),
    Form(
        "biochemical_pregnancy",
        "endpoints.BiochemicalPregnancy",
        edit_page="endpoints:form",
        edit_page_arguments=("participant", "form"),
        visit="biochemical_pregnancy",
        date_field="assessed_on",
        recorded_field="updated_at",
        sas_dataset="BIOPREG",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field(
                "assessed_on",
                "ASSESSED",
                sdtm=("LB.LBDTC", "RP.RPDTC"),
                entered=True,
                critical=True,
                rules=(_ASSESSED,),
            ),
            Field(
                "serum_hcg_miu_ml",
                "SERUMHCG",
                sdtm=("LB.LBORRES",),
                unit=_("mIU/mL"),
                entered=True,
                critical=True,
            ),
            Field("result", "RESULT", sdtm=("RP.RPORRES",), entered=True, critical=True),
            Field("updated_at", "UPDATEDA"),
        ),
    ),
    Form(
        "clinical_pregnancy",
        "endpoints.ClinicalPregnancy",
        edit_page="endpoints:form",
        edit_page_arguments=("participant", "form"),
        visit="clinical_pregnancy",
        date_field="assessed_on",
        recorded_field="updated_at",
        sas_dataset="CLINPREG",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field(
                "assessed_on",
                "ASSESSED",
                sdtm=("RP.RPDTC",),
                entered=True,
                critical=True,
                rules=(_ASSESSED,),
            ),
            Field(
                "transvaginal_ultrasound",
                "TVUS",
                sdtm=("RP.RPMETHOD",),
                entered=True,
                critical=True,
            ),
            Field(
                "gestational_sac_seen", "GSSEEN", sdtm=("RP.RPORRES",), entered=True, critical=True
            ),
            Field(
                "number_of_sacs",
                "GSNUM",
                sdtm=("RP.RPORRES",),
                unit=_("sacs"),
                entered=True,
                critical=True,
            ),
            Field("fetal_heartbeat", "FETALHEA", sdtm=("RP.RPORRES",), entered=True, critical=True),
            Field(
                "ectopic_pregnancy", "ECTOPICP", sdtm=("RP.RPORRES",), entered=True, critical=True
            ),
            Field(
                "result",
                "RESULT",
                sdtm=("RP.RPORRES",),
                entered=True,
                critical=True,
                # A clinical pregnancy is a sac on ultrasound, or an ectopic pregnancy.
                rules=(
                    ChoiceNeedsYes(
                        choice="positive",
                        choice_label=_("Positive"),
                        answers=(
                            ("gestational_sac_seen", _("gestational sac seen")),
                            ("ectopic_pregnancy", _("ectopic pregnancy")),
                        ),
                    ),
                    ChoiceRefusedWithYes(
                        choice="negative",
                        choice_label=_("Negative"),
                        answer="gestational_sac_seen",
                        answer_label=_("gestational sac seen"),
                    ),
                ),
            ),
            Field("followup_study_consent", "FUPCONS", entered=True),
            Field("updated_at", "UPDATEDA"),
        ),
    ),
    Form(
        "edit_check",
        "endpoints.EditCheckFinding",
        kind="participant_record",
        recorded_field="raised_at",
    ),
    Form(
        "adverse_event",
        "safety.AdverseEvent",
        edit_page="safety:adverse_event",
        edit_page_arguments=("participant", "record"),
        multi_record=True,
        date_field="onset_date",
        recorded_field="recorded_at",
        sas_dataset="AE",
        bookkeeping=("id", "participant", "recorded_by", "confirmed_by"),
        fields=(
            Field(
                "term",
                "TERM",
                sdtm=("AE.AETERM",),
                entered=True,
                rules=(Required(_("Give the adverse event term (e.g. a CTCAE term).")),),
            ),
            Field(
                "onset_date",
                "ONSETDAT",
                sdtm=("AE.AESTDTC",),
                entered=True,
                rules=(
                    NotInFuture(_("The onset date cannot be in the future.")),
                    NotBefore(
                        _(
                            "Adverse events are recorded from her consent: the onset "
                            "cannot be before the consent date (%(date)s)."
                        ),
                        anchor="consent_date",
                        anchor_label=_("consent"),
                    ),
                ),
            ),
            Field(
                "end_date",
                "ENDDATE",
                sdtm=("AE.AEENDTC",),
                entered=True,
                rules=(
                    NotBefore(
                        _("The end date cannot be before the onset date (%(date)s)."),
                        anchor="onset_date",
                        anchor_label=_("the onset date"),
                    ),
                    NotInFuture(_("The end date cannot be in the future.")),
                ),
            ),
            Field("ctcae_grade", "CTCAEGRA", sdtm=("AE.AETOXGR",), entered=True),
            Field("serious", "SERIOUS", sdtm=("AE.AESER",), entered=True, critical=True),
            Field(
                "seriousness_criteria",
                "SERCRIT",
                sdtm=(
                    "AE.AESDTH",
                    "AE.AESLIFE",
                    "AE.AESHOSP",
                    "AE.AESDISAB",
                    "AE.AESCONG",
                    "AE.AESMIE",
                ),
                entered=True,
                critical=True,
                rules=(Described(text=_("Death is a criterion only when the outcome is fatal.")),),
            ),
            Field("related", "RELATED", sdtm=("AE.AEREL",), entered=True),
            Field("action_taken", "ACTIONTA", sdtm=("AE.AEACN",), entered=True),
            Field("outcome", "OUTCOME", sdtm=("AE.AEOUT",), entered=True),
            Field(
                "learned_at",
                "LEARNEDA",
                entered=True,
                rules=(Described(text=_("Not in the future.")),),
            ),
            Field(
                "pre_treatment",
                "PRETREAT",
                rules=(
                    Described(
                        text=_(
                            "Set by the eCRF: yes when the onset is before her first dose "
                            "taken, or, with no dose recorded, before her planned first "
                            "dosing day (always yes while neither is known)."
                        )
                    ),
                ),
            ),
            Field("recorded_at", "RECORDED"),
            Field("updated_at", "UPDATEDA"),
            Field("confirmed_at", "CONFIRME"),
        ),
    ),
    Form(
        "safety_lab",
        "labs.LabResult",
        edit_page="labs:results",
        multi_record=True,
        date_field="measured_on",
        recorded_field="updated_at",
        sas_dataset="LAB",
        bookkeeping=("id", "participant", "recorded_by"),
        fields=(
            Field("visit", "VISIT", sdtm=("LB.VISIT", "VS.VISIT")),
            Field("analyte", "ANALYTE", sdtm=("LB.LBTESTCD", "VS.VSTESTCD")),
            Field(
                "measured_on",
                "MEASURED",
                sdtm=("LB.LBDTC", "VS.VSDTC"),
                entered=True,
                rules=(
                    _NOT_FUTURE,
                    NotBefore(
                        _("This is more than 90 days before screening."),
                        anchor="screening_date",
                        anchor_label=_SCREENING,
                        days=90,
                    ),
                ),
            ),
            Field(
                "value",
                "VALUE",
                sdtm=("LB.LBORRES", "VS.VSORRES"),
                unit=_SITE_UNIT,
                entered=True,
                rules=(AtLeast(_("A measurement cannot be negative.")),),
            ),
            Field("unit", "UNIT", sdtm=("LB.LBORRESU", "VS.VSORRESU")),
            Field("normal_low", "NORMALLO", sdtm=("LB.LBORNRLO",), unit=_SITE_UNIT),
            Field("normal_high", "NORMALHI", sdtm=("LB.LBORNRHI",), unit=_SITE_UNIT),
            Field(
                "out_of_range",
                "OUTOFRAN",
                rules=(
                    Described(text=_("Computed against the site's normal range of the analyte.")),
                ),
            ),
            Field("updated_at", "UPDATEDA"),
        ),
    ),
)

_BY_CODE = {form.code: form for form in FORMS}
_BY_MODEL = {form.model: form for form in FORMS}


def form(code: str) -> Form:
    """The form with this code (``KeyError`` for an unknown one)."""
    return _BY_CODE[code]


def form_of_model(label: str) -> Form | None:
    """The form stored by the model with this label (``app_label.ModelName``), if any."""
    return _BY_MODEL.get(label)


def sdtm_sources(target: str) -> tuple[tuple[Form, Field], ...]:
    """The fields collected into the SDTM variable ``target`` (``DOMAIN.VARIABLE``)."""
    return tuple(
        (entry, field) for entry in FORMS for field in entry.fields if target in field.sdtm
    )


def case_report_forms() -> Iterator[Form]:
    """The case report forms, in the order of the trial."""
    return (f for f in FORMS if f.is_crf)


def participant_data() -> Iterator[Form]:
    """Every form and record holding a participant's data (the guard covers each)."""
    return (f for f in FORMS if f.holds_participant_data)


def queryable_forms() -> Iterator[Form]:
    """The forms a monitor verifies and raises queries on."""
    return (f for f in FORMS if f.queryable)


def concealed_models() -> tuple[str, ...]:
    """Models whose rows and history only those who may see the lists see."""
    return tuple(f.model for f in FORMS if f.history_concealed)


#: The study's arms: each of their values (code, labels, daily dose) names an arm.
ARM_MODEL = "studies.Arm"


def blinded_models() -> tuple[str, ...]:
    """Models whose rows and history name or tell an arm: the randomization lists, every
    model with a ``concealed`` field (the allocation) or a field that ``reveals_arm``
    (the dose diary, dispensing and returns), and the arms themselves. The roles a
    blinded study names see none of their history, even those who may see the lists."""
    holding_arm = (
        f.model for f in FORMS if any(field.concealed or field.reveals_arm for field in f.fields)
    )
    return tuple(dict.fromkeys([*concealed_models(), *holding_arm, ARM_MODEL]))


def visit(code: str) -> Visit:
    for candidate in VISITS:
        if candidate.code == code:
            return candidate
    raise KeyError(code)


# -- the study's settings -------------------------------------------------------------

#: What a study setting governs: the trial's design (who is eligible, how she is
#: allocated and treated, when she is seen), its analysis, or the running of the study.
SettingKind = Literal["design", "analysis", "operational"]

#: The model whose fields are the study's settings.
SETTINGS_MODEL = "studies.Study"


@dataclass(frozen=True)
class StudySetting:
    """One setting of the study (a field of :data:`SETTINGS_MODEL`) and what it governs.

    Design and analysis settings decide what the data mean: while the study database is
    locked they do not change, whatever path a change takes (the database refuses it).
    Operational settings (the study's names, sign-in, audit review, who may see the arm
    or the efficacy results) may change under the lock: unblinding after the lock is the
    normal course, and none of them changes the data or their analysis. Any change of a
    saved setting needs a reason and is audited with the old and new value.
    """

    name: str
    kind: SettingKind

    @property
    def frozen_by_study_lock(self) -> bool:
        return self.kind != "operational"

    @property
    def label(self) -> Any:
        """The setting's name in the active language (its model field's ``verbose_name``)."""
        return apps.get_model(SETTINGS_MODEL)._meta.get_field(self.name).verbose_name


STUDY_SETTINGS: tuple[StudySetting, ...] = (
    StudySetting("code", "operational"),
    StudySetting("title_en", "operational"),
    StudySetting("title_ja", "operational"),
    StudySetting("registry_id", "operational"),
    StudySetting("target_enrollment", "design"),
    StudySetting("mfa_required", "operational"),
    StudySetting("eligibility_age_min", "design"),
    StudySetting("eligibility_age_max", "design"),
    StudySetting("screening_age_min", "design"),
    StudySetting("screening_age_max", "design"),
    StudySetting("min_prior_transfers", "design"),
    StudySetting("min_prior_embryos", "design"),
    StudySetting("th1_th2_threshold", "design"),
    StudySetting("consent_versions", "design"),
    StudySetting("stratify_by_site", "design"),
    StudySetting("randomization_block_sizes", "design"),
    StudySetting("dosing_start_offset", "design"),
    StudySetting("dosing_days", "design"),
    StudySetting("min_days_randomization_to_et", "design"),
    StudySetting("max_days_randomization_to_et", "design"),
    StudySetting("blinded", "operational"),
    StudySetting("blinded_roles", "operational"),
    StudySetting("efficacy_null_rate", "analysis"),
    StudySetting("efficacy_alpha", "analysis"),
    StudySetting("efficacy_visible_before_lock", "operational"),
    StudySetting("audit_late_entry_days", "operational"),
    StudySetting("audit_working_hours_start", "operational"),
    StudySetting("audit_working_hours_end", "operational"),
    StudySetting("audit_bulk_records", "operational"),
)

_SETTINGS_BY_NAME = {setting.name: setting for setting in STUDY_SETTINGS}


def study_setting(name: str) -> StudySetting:
    """The study setting with this field name (``KeyError`` for an unknown one)."""
    return _SETTINGS_BY_NAME[name]


def settings_frozen_by_study_lock() -> tuple[str, ...]:
    """The settings (design and analysis) that do not change while the study is locked."""
    return tuple(s.name for s in STUDY_SETTINGS if s.frozen_by_study_lock)


@dataclass(frozen=True)
class StudyDesignTable:
    """A table whose rows are part of the study's design: the arms and their doses, the
    visits and their windows, the edit checks, each site's laboratory normal ranges.

    While the study database is locked, no row of it is added, removed or changed,
    whatever path the write takes (the database refuses it), but for its ``operational``
    columns (names shown to users, their order), which change nothing in the data or
    their analysis. ``study_path`` names the foreign key leading to the study: ``study``
    directly, or ``site`` for a table kept per site.
    """

    model: str
    study_path: Literal["study", "site"]
    operational: tuple[str, ...] = ()


STUDY_DESIGN_TABLES: tuple[StudyDesignTable, ...] = (
    StudyDesignTable("studies.Arm", "study", operational=("name_en", "name_ja", "order")),
    StudyDesignTable(
        "studies.VisitDefinition", "study", operational=("name_en", "name_ja", "order")
    ),
    StudyDesignTable("endpoints.EditCheckSetting", "study"),
    StudyDesignTable("labs.NormalRange", "site"),
)


def study_design_table(label: str) -> StudyDesignTable:
    """The design table of this model label (``KeyError`` for a model that is not one)."""
    return {table.model: table for table in STUDY_DESIGN_TABLES}[label]


@dataclass(frozen=True)
class KeptCount:
    """A table the database keeps from the study data with triggers of its own, for the
    pages that summarise every participant: a copy of rows audited in their own tables,
    never written by the app, counted afresh after every ``migrate``. It is neither a
    participant's data (no lock freezes it, no signature covers it) nor the study's
    design."""

    model: str
    holds: str


KEPT_COUNTS: tuple[KeptCount, ...] = (
    KeptCount("quality.FormTally", "each participant's records and verification marks per form"),
    KeptCount("quality.ParticipantVerification", "each participant's verification totals"),
    KeptCount("reports.ParticipantSummary", "the facts of each participant the reports count"),
    KeptCount("reports.SiteAdverseEventCount", "the safety report's counts per site"),
)
