"""``GET /api/v1/reports/efficacy/`` (API contract, The efficacy report)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecrf.studies.services import current_study

from .permissions import ensure_efficacy_access
from .selectors import efficacy_report


class ArmResultSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Positives in the FAS of the arm.")
    N = serializers.IntegerField(help_text="Participants in the FAS of the arm.")
    percent = serializers.FloatField(
        allow_null=True, help_text="n/N in percent, one decimal; null when N is 0."
    )
    ci_low = serializers.FloatField(
        allow_null=True, help_text="Lower bound of the exact (Clopper-Pearson) 95% CI, percent."
    )
    ci_high = serializers.FloatField(
        allow_null=True, help_text="Upper bound of the exact (Clopper-Pearson) 95% CI, percent."
    )
    p_value = serializers.FloatField(
        allow_null=True,
        help_text="One-sided exact binomial test of the arm's rate against null_rate.",
    )


class EndpointResultSerializer(serializers.Serializer):
    low = ArmResultSerializer(help_text="The low-dose arm.")
    high = ArmResultSerializer(help_text="The high-dose arm.")


class EndpointsSerializer(serializers.Serializer):
    clinical_pregnancy = EndpointResultSerializer(
        help_text="Primary endpoint: gestational sac seen on transvaginal ultrasound."
    )
    biochemical_pregnancy = EndpointResultSerializer(
        help_text="Secondary endpoint: serum hCG positive."
    )


class EfficacyReportSerializer(serializers.Serializer):
    analysis_set = serializers.CharField(
        help_text="FAS: randomized, embryo transfer performed, at least one dose taken."
    )
    null_rate = serializers.FloatField(help_text="The protocol's threshold rate (study setting).")
    endpoints = EndpointsSerializer()


class EfficacyReportView(APIView):
    """The efficacy report over the full analysis set (FAS).

    Statisticians and administrators always; data managers once the study database
    is locked or where the study's settings allow; every other role answers 403.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="reports_efficacy",
        responses={
            200: EfficacyReportSerializer,
            401: OpenApiResponse(description="No API key."),
            403: OpenApiResponse(
                description="Not a statistician or administrator, and (for data managers) "
                "the study database is not locked and the study's settings do not show "
                "the results before the lock."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        study = current_study()
        if study is None:
            raise Http404
        ensure_efficacy_access(request.user, study)
        return Response(efficacy_report(request.user, study).as_contract())
