"""API shapes (API contract, Core flow). Serializers parse; services decide."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.models import AnonymousUser
from django.utils.functional import lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ecrf.common import catalogue
from ecrf.common.serializers import FreeTextField
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Consent, Eligibility, Participant
from ecrf.safety.models import ActionTaken, AdverseEvent, Outcome, SeriousnessCriterion
from ecrf.schedule.models import Intake
from ecrf.schedule.services import participant_schedule

from .fields import InputDateTimeField


def _plain(value: Any) -> Any:
    """A form value as JSON shows it: dates as ISO text, decimals as numbers."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def dose_number(dose: Decimal) -> int | float:
    """A dose as JSON shows it: 2, not "2.00"."""
    return int(dose) if dose == dose.to_integral_value() else float(dose)


class ParticipantCreateSerializer(serializers.Serializer):
    site = FreeTextField(max_length=8, help_text="Site code, e.g. S01.")
    screening_date = serializers.DateField()
    birth_date = serializers.DateField()


class ParticipantUpdateSerializer(serializers.Serializer):
    screening_date = serializers.DateField(required=False)
    birth_date = serializers.DateField(required=False)
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class EligibilityInputSerializer(serializers.Serializer):
    prior_good_quality_transfers = serializers.IntegerField(min_value=0, max_value=100)
    prior_embryos_transferred = serializers.IntegerField(min_value=0, max_value=200)
    prior_biochemical_pregnancy = serializers.BooleanField()
    other_infertility_factor = serializers.BooleanField()
    th1_th2_ratio = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("9999.99")
    )
    frozen_embryos_available = serializers.BooleanField()
    able_to_attend_visits = serializers.BooleanField()
    antiphospholipid_syndrome = serializers.BooleanField()
    coagulation_abnormality = serializers.BooleanField()
    thyroid_dysfunction = serializers.BooleanField()
    other_pregnancy_loss_factor = serializers.BooleanField()
    tacrolimus_contraindication = serializers.BooleanField()
    pregnant = serializers.BooleanField()
    investigator_judges_unsuitable = serializers.BooleanField()
    th1_th2_sample_date = serializers.DateField(required=False, allow_null=True)
    th1_th2_laboratory = FreeTextField(required=False, allow_blank=True, max_length=200)
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class EligibilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Eligibility
        exclude = ["id", "participant", "assessed_by"]


class ConsentInputSerializer(serializers.Serializer):
    consent_date = serializers.DateField()
    consent_version = FreeTextField(max_length=20)
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class ConsentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["consent_date", "consent_version", "updated_at"]


class AllocationSerializer(serializers.Serializer):
    """The allocation; ``arm`` and ``dose_mg_per_day`` are null for a role the study blinds."""

    arm = serializers.CharField(allow_null=True)
    dose_mg_per_day = serializers.IntegerField(allow_null=True)
    randomization_number = serializers.CharField()
    randomized_at = serializers.DateTimeField()


class EmbryoTransferInputSerializer(serializers.Serializer):
    et_date = serializers.DateField(
        help_text=cast(str, lazy(catalogue.EMBRYO_TRANSFER_AFTER_RANDOMIZATION.describe, str)())
    )
    performed = serializers.BooleanField()
    embryos_transferred = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5
    )
    embryo_stage = serializers.ChoiceField(
        choices=["cleavage", "blastocyst"], required=False, allow_blank=True
    )
    embryo_grade = FreeTextField(required=False, allow_blank=True, max_length=40)
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class VisitWindowSerializer(serializers.Serializer):
    code = serializers.CharField()
    target_date = serializers.DateField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()


class ScheduleSerializer(serializers.Serializer):
    dosing_start = serializers.DateField()
    dosing_end = serializers.DateField()
    daily_dose_mg = serializers.IntegerField(allow_null=True)
    visits = VisitWindowSerializer(many=True)


class DoseInputSerializer(serializers.Serializer):
    """One entry of the dose diary: without ``intake``, the whole day (each intake an
    equal share of ``dose_mg``); with it, that intake alone."""

    date = serializers.DateField()
    intake = serializers.ChoiceField(choices=Intake.choices, required=False)
    dose_mg = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100")
    )
    taken = serializers.BooleanField()
    capsules = serializers.IntegerField(required=False, min_value=0, max_value=100)
    time_taken = serializers.TimeField(required=False, allow_null=True)
    missed_reason = FreeTextField(required=False, allow_blank=True, max_length=500)
    comment = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)
    deviation_reason = FreeTextField(required=False, allow_blank=True, max_length=500)


class DoseSerializer(serializers.Serializer):
    """One intake as recorded."""

    id = serializers.IntegerField()
    date = serializers.DateField()
    intake = serializers.CharField()
    taken = serializers.BooleanField()
    time_taken = serializers.TimeField(allow_null=True)
    dose_mg = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    capsules = serializers.IntegerField()
    missed_reason = serializers.CharField()
    deviation = serializers.BooleanField()
    deviation_reason = serializers.CharField()


class DoseDaySerializer(serializers.Serializer):
    """A whole day as recorded: its totals, and each intake."""

    date = serializers.DateField()
    taken = serializers.BooleanField()
    dose_mg = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    capsules = serializers.IntegerField()
    deviation = serializers.BooleanField()
    deviation_reason = serializers.CharField()
    intakes = DoseSerializer(many=True)


def dose_day_body(entries: list[Any]) -> dict[str, Any]:
    """The answer for a whole day recorded at once."""
    first = entries[0]
    return DoseDaySerializer(
        {
            "date": first.date,
            "taken": first.taken,
            "dose_mg": sum((e.dose_mg for e in entries), Decimal(0)),
            "capsules": sum(e.capsules for e in entries),
            "deviation": first.deviation,
            "deviation_reason": first.deviation_reason,
            "intakes": entries,
        }
    ).data


def schedule_body(schedule: Any, daily_dose_mg: int | float | None) -> dict[str, Any]:
    """The schedule as the API contract spells it."""
    return {
        "dosing_start": schedule.dosing_start.isoformat(),
        "dosing_end": schedule.dosing_end.isoformat(),
        "daily_dose_mg": daily_dose_mg,
        "visits": [
            {
                "code": v.code,
                "target_date": v.target_date.isoformat(),
                "window_start": v.window_start.isoformat(),
                "window_end": v.window_end.isoformat(),
            }
            for v in schedule.visits
        ],
    }


class BiochemicalPregnancyInputSerializer(serializers.Serializer):
    assessed_on = serializers.DateField()
    serum_hcg_miu_ml = serializers.DecimalField(max_digits=12, decimal_places=2)
    result = serializers.ChoiceField(choices=["positive", "negative"])
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class ClinicalPregnancyInputSerializer(serializers.Serializer):
    assessed_on = serializers.DateField()
    gestational_sac_seen = serializers.BooleanField()
    result = serializers.ChoiceField(choices=["positive", "negative"])
    transvaginal_ultrasound = serializers.BooleanField(required=False, default=True)
    number_of_sacs = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=5
    )
    fetal_heartbeat = serializers.BooleanField(required=False, allow_null=True, default=None)
    ectopic_pregnancy = serializers.BooleanField(required=False, default=False)
    followup_study_consent = serializers.BooleanField(required=False, allow_null=True, default=None)
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class EndpointAnswerSerializer(serializers.Serializer):
    record = serializers.CharField()
    values = serializers.DictField()
    warnings = serializers.ListField(child=serializers.DictField())


class WithdrawInputSerializer(serializers.Serializer):
    date = serializers.DateField()
    reason = FreeTextField(multiline=True, max_length=500)
    decided_by = serializers.ChoiceField(
        choices=["participant", "investigator", "sponsor"], required=False, default="participant"
    )


class LockInputSerializer(serializers.Serializer):
    record = FreeTextField(required=False, allow_blank=True, max_length=40)
    reason = FreeTextField(multiline=True, required=False, allow_blank=True, max_length=500)


class UnlockInputSerializer(serializers.Serializer):
    reason = FreeTextField(multiline=True, max_length=500)


class LockSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scope = serializers.CharField()
    record = serializers.CharField()
    locked_at = serializers.DateTimeField()
    unlocked_at = serializers.DateTimeField(allow_null=True)


class SignatureInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=200, trim_whitespace=False)
    meaning = FreeTextField(required=False, allow_blank=True, max_length=500)


class SignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    printed_name = serializers.CharField()
    meaning = serializers.CharField()
    signed_at = serializers.DateTimeField()
    data_hash = serializers.CharField()
    voided_at = serializers.DateTimeField(allow_null=True)
    void_reason = serializers.CharField()
    open_queries = serializers.IntegerField(help_text="Queries not closed when she signed.")
    unconfirmed_adverse_events = serializers.IntegerField(
        help_text="Adverse events no investigator had confirmed when she signed."
    )
    unverified_forms = serializers.IntegerField(
        help_text="Forms with values not verified against source when she signed."
    )


class UnblindInputSerializer(serializers.Serializer):
    reason = FreeTextField(multiline=True, max_length=500)


class ParticipantSerializer(serializers.ModelSerializer):
    """A participant with her records; the arm only where the caller may see it."""

    site = serializers.CharField(source="site.code", read_only=True)
    arm = serializers.SerializerMethodField()
    dose_mg_per_day = serializers.SerializerMethodField()
    randomization_number = serializers.SerializerMethodField()
    randomized_at = serializers.SerializerMethodField()
    eligibility = serializers.SerializerMethodField()
    consent = serializers.SerializerMethodField()
    embryo_transfer = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    biochemical_pregnancy = serializers.SerializerMethodField()
    clinical_pregnancy = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id",
            "subject_id",
            "site",
            "status",
            "screening_date",
            "birth_date",
            "registered_at",
            "arm",
            "dose_mg_per_day",
            "randomization_number",
            "randomized_at",
            "eligibility",
            "consent",
            "embryo_transfer",
            "schedule",
            "biochemical_pregnancy",
            "clinical_pregnancy",
        ]
        read_only_fields = fields

    def _slot(self, obj: Participant) -> Any:
        return getattr(obj, "allocation", None)

    def _arm_shown(self, obj: Participant) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None) or AnonymousUser()
        return self._slot(obj) is not None and arm_visible_to(user, obj)

    def get_arm(self, obj: Participant) -> str | None:
        return self._slot(obj).arm.code if self._arm_shown(obj) else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_dose_mg_per_day(self, obj: Participant) -> int | float | None:
        return dose_number(self._slot(obj).arm.daily_dose_mg) if self._arm_shown(obj) else None

    def get_randomization_number(self, obj: Participant) -> str | None:
        slot = self._slot(obj)
        return slot.randomization_number if slot else None

    def get_randomized_at(self, obj: Participant) -> str | None:
        slot = self._slot(obj)
        return slot.allocated_at.isoformat() if slot else None

    def get_eligibility(self, obj: Participant) -> dict[str, Any] | None:
        record = getattr(obj, "eligibility", None)
        return EligibilitySerializer(record).data if record else None

    def get_consent(self, obj: Participant) -> dict[str, Any] | None:
        record = getattr(obj, "consent", None)
        return ConsentSerializer(record).data if record else None

    def get_embryo_transfer(self, obj: Participant) -> dict[str, Any] | None:
        transfer = getattr(obj, "embryo_transfer", None)
        if transfer is None:
            return None
        return {
            "et_date": transfer.et_date.isoformat(),
            "performed": transfer.performed,
            "embryos_transferred": transfer.embryos_transferred,
            "embryo_stage": transfer.embryo_stage,
            "embryo_grade": transfer.embryo_grade,
        }

    @extend_schema_field(ScheduleSerializer(allow_null=True))
    def get_schedule(self, obj: Participant) -> dict[str, Any] | None:
        schedule = participant_schedule(obj)
        if schedule is None:
            return None
        return schedule_body(schedule, self.get_dose_mg_per_day(obj))

    def _endpoint(self, obj: Participant, record: str) -> dict[str, Any] | None:
        form = catalogue.form(record)
        instance = getattr(obj, form.participant_accessor, None)
        if instance is None:
            return None
        return {field.name: _plain(getattr(instance, field.name)) for field in form.entered_fields}

    def get_biochemical_pregnancy(self, obj: Participant) -> dict[str, Any] | None:
        return self._endpoint(obj, "biochemical_pregnancy")

    def get_clinical_pregnancy(self, obj: Participant) -> dict[str, Any] | None:
        return self._endpoint(obj, "clinical_pregnancy")


class AdverseEventInputSerializer(serializers.Serializer):
    """An adverse event (API contract); the services check the protocol's rules."""

    term = FreeTextField(max_length=200)
    onset_date = serializers.DateField()
    ctcae_grade = serializers.IntegerField(min_value=1, max_value=5)
    serious = serializers.BooleanField()
    related = serializers.BooleanField(help_text="Related to tacrolimus.")
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    end_date = serializers.DateField(required=False, allow_null=True)
    seriousness_criteria = serializers.ListField(
        child=serializers.ChoiceField(choices=SeriousnessCriterion.choices),
        required=False,
        help_text="For a serious event; may follow later (the event is then flagged).",
    )
    action_taken = serializers.ChoiceField(
        choices=ActionTaken.choices, required=False, allow_blank=True
    )
    learned_at = InputDateTimeField(
        required=False, allow_null=True, help_text="When the site learned of it; default now."
    )


class AdverseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "term",
            "onset_date",
            "end_date",
            "ctcae_grade",
            "serious",
            "seriousness_criteria",
            "related",
            "action_taken",
            "outcome",
            "learned_at",
            "confirmed_at",
            "pre_treatment",
        ]
        read_only_fields = ["pre_treatment"]
