"""Review routes of the API contract: a form's records with their verification, and the
verification of values against source."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecrf.accounts.policy import may_verify
from ecrf.common.http import request_user
from ecrf.participants.models import Participant
from ecrf.participants.selectors import participant_get
from ecrf.quality.services import verification_mark
from ecrf.review.reading import FormReading, UnknownForm, form_reading

from .permissions import ReadAnyRoleWriteDataEntry, read_any_role_write


class MarkSerializer(serializers.Serializer):
    by = serializers.CharField(help_text="The monitor's username.")
    at = serializers.DateTimeField()


class RecordSerializer(serializers.Serializer):
    record_id = serializers.IntegerField()
    values = serializers.DictField(
        child=serializers.JSONField(), help_text="Each field's value, by its name."
    )
    verified = serializers.DictField(
        child=MarkSerializer(allow_null=True),
        help_text="Each entered field's standing verification, or null.",
    )
    open_queries = serializers.IntegerField(help_text="Queries not closed on this record.")


class FormRecordsSerializer(serializers.Serializer):
    code = serializers.CharField()
    records = RecordSerializer(many=True)


class VerificationInputSerializer(serializers.Serializer):
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=60),
        required=False,
        help_text="Entered fields of the form; empty or absent: all of them.",
    )
    record_id = serializers.IntegerField(
        required=False, min_value=1, help_text="One row of a multi-record form; absent: all."
    )


class VerificationSerializer(serializers.Serializer):
    record_id = serializers.IntegerField()
    field = serializers.CharField()
    verified_by = serializers.CharField()
    verified_at = serializers.DateTimeField()


def _json_value(value: Any, text: str) -> Any:
    """A value as JSON: booleans, integers and lists as they are, the rest as text."""
    if value is None or isinstance(value, bool | int | list):
        return value
    return text if not isinstance(value, str) else value


def _body(reading: FormReading) -> dict[str, Any]:
    return {
        "code": reading.form.code,
        "records": [
            {
                "record_id": record.record_id,
                "values": {v.name: _json_value(v.value, v.raw_text) for v in record.values},
                "verified": {
                    v.name: {"by": v.verified.by, "at": v.verified.at} if v.verified else None
                    for v in record.values
                    if v.verifiable
                },
                "open_queries": record.open_queries,
            }
            for record in reading.records
        ],
    }


class _ParticipantFormView(APIView):
    def _participant(self, request: Request, pk: int) -> Participant:
        participant = participant_get(request.user, pk)
        self.check_object_permissions(request, participant)
        return participant


class FormRecordsView(_ParticipantFormView):
    """Her records of one form: values by field name, verification and open queries."""

    permission_classes = [ReadAnyRoleWriteDataEntry]

    @extend_schema(responses=FormRecordsSerializer)
    def get(self, request: Request, pk: int, code: str) -> Response:
        participant = self._participant(request, pk)
        try:
            reading = form_reading(request_user(request), participant, code)
        except UnknownForm as exc:
            raise Http404(code) from exc
        return Response(FormRecordsSerializer(_body(reading)).data)


class FormVerificationView(_ParticipantFormView):
    """A monitor marks values of the form as verified against source (one mark each)."""

    permission_classes = [read_any_role_write(may_verify)]

    @extend_schema(
        request=VerificationInputSerializer, responses={201: VerificationSerializer(many=True)}
    )
    def post(self, request: Request, pk: int, code: str) -> Response:
        participant = self._participant(request, pk)
        data = VerificationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        marks = verification_mark(
            participant=participant,
            record=code,
            record_id=data.validated_data.get("record_id"),
            fields=data.validated_data.get("fields") or [],
            performed_by=request_user(request),
        )
        body = [
            {
                "record_id": mark.record_id,
                "field": mark.field,
                "verified_by": mark.verified_by.get_username(),
                "verified_at": mark.verified_at,
            }
            for mark in marks
        ]
        return Response(
            VerificationSerializer(body, many=True).data, status=status.HTTP_201_CREATED
        )
