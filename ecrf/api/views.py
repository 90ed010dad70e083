"""API views: parse, call one service, answer (API contract, Core flow)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ecrf.accounts.policy import may_lock, may_record_adverse_events, may_sign, may_withdraw
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common.exceptions import StateConflict
from ecrf.common.http import request_user
from ecrf.endpoints.services import endpoint_record
from ecrf.participants import selectors, services
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.quality import selectors as quality_selectors
from ecrf.quality import services as quality_services
from ecrf.safety import services as safety_services
from ecrf.schedule import services as schedule_services
from randomization.services import Allocation, participant_randomize

from .permissions import ReadAnyRoleWriteDataEntry, read_any_role_write
from .serializers import (
    AdverseEventInputSerializer,
    AdverseEventSerializer,
    AllocationSerializer,
    BiochemicalPregnancyInputSerializer,
    ClinicalPregnancyInputSerializer,
    ConsentInputSerializer,
    ConsentSerializer,
    DoseDaySerializer,
    DoseInputSerializer,
    DoseSerializer,
    EligibilityInputSerializer,
    EligibilitySerializer,
    EmbryoTransferInputSerializer,
    EndpointAnswerSerializer,
    LockInputSerializer,
    LockSerializer,
    ParticipantCreateSerializer,
    ParticipantSerializer,
    ParticipantUpdateSerializer,
    ScheduleSerializer,
    SignatureInputSerializer,
    SignatureSerializer,
    UnlockInputSerializer,
    WithdrawInputSerializer,
    dose_day_body,
    dose_number,
    schedule_body,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


def allocation_body(allocation: Allocation, *, arm_visible: bool) -> dict[str, Any]:
    """The contract's answer to a randomization; the arm and its dose are null where the
    blinding rule (:func:`ecrf.participants.blinding.arm_visible_to`) hides them."""
    return {
        "arm": allocation.arm if arm_visible else None,
        "dose_mg_per_day": dose_number(allocation.dose_mg_per_day) if arm_visible else None,
        "randomization_number": allocation.randomization_number,
        "randomized_at": allocation.randomized_at.isoformat(),
    }


class ReadAnyRoleWriteSafety(ReadAnyRoleWriteDataEntry):
    """As for the other forms, but coordinators and investigators both write safety data."""

    policy = staticmethod(may_record_adverse_events)  # type: ignore[assignment]


class ParticipantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Participants of the caller's sites; other sites' participants answer 404."""

    serializer_class = ParticipantSerializer
    permission_classes = [ReadAnyRoleWriteDataEntry]
    queryset = Participant.objects.none()
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        params = self.request.query_params
        status_filter = params.get("status") or None
        if status_filter and status_filter not in ParticipantStatus.values:
            raise ValidationError(
                {
                    "status": f"Unknown status {status_filter!r}; expected one of "
                    f"{', '.join(ParticipantStatus.values)}."
                }
            )
        site_code = params.get("site") or None
        if site_code and "\x00" in site_code:
            raise ValidationError({"site": _("Expected a site code, e.g. S01.")})
        return selectors.participants_visible_to(
            self.request.user, site_code=site_code, status=status_filter
        )

    def _participant(self, request: Request, pk: str) -> Participant:
        participant = selectors.participant_get(request.user, int(pk))
        self.check_object_permissions(request, participant)
        return participant

    @extend_schema(
        parameters=[
            OpenApiParameter("site", str, description="Site code, e.g. S01"),
            OpenApiParameter("status", str, enum=ParticipantStatus.values),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ParticipantCreateSerializer, responses={201: ParticipantSerializer})
    def create(self, request: Request) -> Response:
        data = ParticipantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = sites_visible_to(request.user).filter(code=data.validated_data["site"]).first()
        if site is None:
            raise ValidationError(
                {"site": f"Unknown site {data.validated_data['site']!r} for you."}
            )
        participant = services.participant_enroll(
            site=site,
            screening_date=data.validated_data["screening_date"],
            birth_date=data.validated_data["birth_date"],
            performed_by=request_user(request),
        )
        return Response(
            ParticipantSerializer(participant, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ParticipantUpdateSerializer, responses={200: ParticipantSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        """Correct the screening entry; a changed saved value needs ``reason``."""
        participant = self._participant(request, pk)
        data = ParticipantUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        participant = services.participant_update_screening(
            participant=participant,
            screening_date=values.get("screening_date", participant.screening_date),
            birth_date=values.get("birth_date", participant.birth_date),
            reason=values.get("reason", ""),
            performed_by=request_user(request),
        )
        return Response(ParticipantSerializer(participant, context={"request": request}).data)

    @extend_schema(
        request=EligibilityInputSerializer,
        responses={200: EligibilitySerializer},
        description="Every criterion of the protocol; answers `eligible` and `failed_criteria`.",
    )
    @action(detail=True, methods=["put"], url_path="eligibility")
    def eligibility(self, request: Request, pk: str) -> Response:
        participant = self._participant(request, pk)
        data = EligibilityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answers = dict(data.validated_data)
        reason = answers.pop("reason", "")
        record = services.eligibility_record(
            participant=participant,
            answers=answers,
            reason=reason,
            performed_by=request_user(request),
        )
        return Response(EligibilitySerializer(record).data)

    @extend_schema(request=ConsentInputSerializer, responses={201: ConsentSerializer})
    @action(detail=True, methods=["post"], url_path="consent")
    def consent(self, request: Request, pk: str) -> Response:
        participant = self._participant(request, pk)
        data = ConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.consent_record(
            participant=participant,
            consent_date=data.validated_data["consent_date"],
            consent_version=data.validated_data["consent_version"],
            reason=data.validated_data.get("reason", ""),
            performed_by=request_user(request),
        )
        return Response(ConsentSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                location=OpenApiParameter.HEADER,
                required=True,
                description="Any unique string; the same key again returns the first answer.",
            )
        ],
        responses={
            201: AllocationSerializer,
            200: OpenApiResponse(AllocationSerializer, description="The same key again."),
            409: OpenApiResponse(description="Not eligible, not consented or already randomized."),
        },
    )
    @action(detail=True, methods=["post"], url_path="randomize")
    def randomize(self, request: Request, pk: str) -> Response:
        participant = self._participant(request, pk)
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if not key.strip():
            raise ValidationError(
                {IDEMPOTENCY_HEADER: "This header is required: a unique string per request."}
            )
        allocation = participant_randomize(
            participant=participant, idempotency_key=key, performed_by=request_user(request)
        )
        return Response(
            allocation_body(allocation, arm_visible=arm_visible_to(request.user, participant)),
            status=status.HTTP_201_CREATED if allocation.created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=EmbryoTransferInputSerializer,
        responses={200: ScheduleSerializer},
        description="Set or move the ET date (a move needs `reason`); answers the schedule.",
    )
    @action(detail=True, methods=["put"], url_path="embryo-transfer")
    def embryo_transfer(self, request: Request, pk: str) -> Response:
        participant = self._participant(request, pk)
        data = EmbryoTransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        _transfer, schedule = schedule_services.embryo_transfer_set(
            participant=participant,
            performed_by=request_user(request),
            reason=values.pop("reason", ""),
            **values,
        )
        slot = participant.allocation
        dose = (
            dose_number(slot.arm.daily_dose_mg)
            if arm_visible_to(request.user, participant)
            else None
        )
        return Response(schedule_body(schedule, dose))

    @extend_schema(
        request=DoseInputSerializer,
        responses={
            201: PolymorphicProxySerializer(
                component_name="DoseRecorded",
                serializers=[DoseDaySerializer, DoseSerializer],
                resource_type_field_name=None,
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="doses")
    def doses(self, request: Request, pk: str) -> Response:
        """One entry per date records both intakes; ``intake`` names one of them."""
        participant = self._participant(request, pk)
        data = DoseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        intake = values.pop("intake", None)
        if intake is None:
            entries = schedule_services.dose_day_record(
                participant=participant, performed_by=request_user(request), **values
            )
            return Response(dose_day_body(entries), status=status.HTTP_201_CREATED)
        entry = schedule_services.dose_record(
            participant=participant,
            intake=intake,
            performed_by=request_user(request),
            **values,
        )
        return Response(DoseSerializer(entry).data, status=status.HTTP_201_CREATED)

    def _endpoint(self, request: Request, pk: str, record: str, serializer: Any) -> Response:
        participant = self._participant(request, pk)
        data = serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", "")
        saved = endpoint_record(
            participant=participant,
            record=record,
            values=values,
            reason=reason,
            # An API client cannot be asked to confirm: soft checks are recorded as
            # findings (and queries) and returned as warnings.
            confirm_warnings=True,
            performed_by=request_user(request),
        )
        participant.refresh_from_db()
        body = ParticipantSerializer(participant, context={"request": request}).data[record]
        return Response(
            {
                "record": record,
                "values": body,
                "warnings": [
                    {"code": f.code, "field": f.field, "message": f.message} for f in saved.warnings
                ],
            }
        )

    @extend_schema(
        request=BiochemicalPregnancyInputSerializer, responses={200: EndpointAnswerSerializer}
    )
    @action(detail=True, methods=["put"], url_path="biochemical-pregnancy")
    def biochemical_pregnancy(self, request: Request, pk: str) -> Response:
        return self._endpoint(
            request, pk, "biochemical_pregnancy", BiochemicalPregnancyInputSerializer
        )

    @extend_schema(
        request=ClinicalPregnancyInputSerializer, responses={200: EndpointAnswerSerializer}
    )
    @action(detail=True, methods=["put"], url_path="clinical-pregnancy")
    def clinical_pregnancy(self, request: Request, pk: str) -> Response:
        return self._endpoint(request, pk, "clinical_pregnancy", ClinicalPregnancyInputSerializer)

    @extend_schema(request=WithdrawInputSerializer, responses={201: ParticipantSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="withdraw",
        permission_classes=[read_any_role_write(may_withdraw)],
    )
    def withdraw(self, request: Request, pk: str) -> Response:
        participant = self._participant(request, pk)
        data = WithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.participant_withdraw(
            participant=participant, performed_by=request_user(request), **data.validated_data
        )
        participant.refresh_from_db()
        return Response(
            ParticipantSerializer(participant, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=AdverseEventInputSerializer,
        responses={201: AdverseEventSerializer},
        description=(
            "Record an adverse event (coordinator or investigator of her site) from her "
            "consent on (409 before it; the onset cannot be before the consent date), also "
            "after withdrawal. An onset before her first dose is answered with "
            "`pre_treatment` true. A serious event queues the sponsor's notification at "
            "once; its `seriousness_criteria` may follow later (the event is flagged until "
            "given)."
        ),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="adverse-events",
        permission_classes=[ReadAnyRoleWriteSafety],
    )
    def adverse_events(self, request: Request, pk: str) -> Response:
        participant = self._participant(request, pk)
        data = AdverseEventInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        adverse_event = safety_services.adverse_event_record(
            participant=participant, performed_by=request_user(request), **data.validated_data
        )
        return Response(AdverseEventSerializer(adverse_event).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["POST"], request=LockInputSerializer, responses={201: LockSerializer})
    @extend_schema(
        methods=["DELETE"], request=UnlockInputSerializer, responses={200: LockSerializer}
    )
    @action(
        detail=True,
        methods=["post", "delete"],
        url_path="lock",
        permission_classes=[read_any_role_write(may_lock)],
    )
    def lock(self, request: Request, pk: str) -> Response:
        """Lock her data (or one form, with `record`); DELETE with `reason` unlocks."""
        participant = self._participant(request, pk)
        if request.method == "DELETE":
            unlock = UnlockInputSerializer(data=request.data or request.query_params)
            unlock.is_valid(raise_exception=True)
            standing = quality_selectors.participant_lock(participant)
            if standing is None:
                raise StateConflict("She is not locked.")
            released = quality_services.lock_release(
                lock=standing,
                reason=unlock.validated_data["reason"],
                performed_by=request_user(request),
            )
            return Response(LockSerializer(released).data)
        data = LockInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = quality_services.lock_set(
            study=participant.site.study,
            participant=participant,
            record=data.validated_data.get("record", ""),
            reason=data.validated_data.get("reason", ""),
            performed_by=request_user(request),
        )
        return Response(LockSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SignatureInputSerializer, responses={201: SignatureSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="signature",
        permission_classes=[read_any_role_write(may_sign)],
    )
    def signature(self, request: Request, pk: str) -> Response:
        """The investigator signs her casebook by re-entering her password."""
        participant = self._participant(request, pk)
        data = SignatureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signed = quality_services.signature_sign(
            participant=participant,
            password=data.validated_data["password"],
            meaning=data.validated_data.get("meaning", ""),
            performed_by=request_user(request),
            request=request._request,
        )
        return Response(SignatureSerializer(signed).data, status=status.HTTP_201_CREATED)
