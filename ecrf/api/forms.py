"""``GET /api/v1/forms/``: the case report form catalogue (API contract, Review)."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecrf.accounts.policy import arms_hidden_from
from ecrf.exports.formats.dictionary import FormDef, study_forms
from ecrf.studies.services import current_study


class ChoiceSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The value as the API sends and receives it.")
    label = serializers.CharField(help_text="What the value means, in the reader's language.")  # type: ignore[assignment]


class CatalogueFieldSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The field's name as the rest of the API spells it.")
    label = serializers.CharField()  # type: ignore[assignment]
    type = serializers.ChoiceField(
        choices=["text", "integer", "float", "date", "datetime", "boolean"]
    )
    unit = serializers.CharField(help_text="Empty when the value has no unit.")
    choices = ChoiceSerializer(many=True, help_text="The code list; empty for free values.")


class CatalogueFormSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The form code the rest of the API uses.")
    label = serializers.CharField()  # type: ignore[assignment]
    multi_record = serializers.BooleanField(help_text="Whether she has many rows of it.")
    fields = CatalogueFieldSerializer(many=True)  # type: ignore[assignment]


def _form_body(form: FormDef, japanese: bool) -> dict[str, Any]:
    return {
        "code": form.name,
        "label": form.label_ja if japanese else form.label_en,
        "multi_record": form.repeating,
        "fields": [
            {
                "name": field.name,
                "label": field.label_ja if japanese else field.label_en,
                "type": field.data_type,
                "unit": field.unit_ja if japanese else field.unit,
                "choices": [
                    {"code": code, "label": label}
                    for code, label in (
                        field.allowed_values_ja if japanese else field.allowed_values
                    )
                ],
            }
            for field in form.fields
        ],
    }


class FormCatalogueView(APIView):
    """Every case report form of the study with its fields, units and code lists.

    Labels are in the language of ``Accept-Language`` (Japanese or English). The form
    codes and field names are those every other route of the API uses. The fields that
    name the arm are left out for the roles a blinded study names.
    """

    @extend_schema(responses=CatalogueFormSerializer(many=True))
    def get(self, request: Request) -> Response:
        study = current_study()
        japanese = (translation.get_language() or "en").startswith("ja")
        forms = study_forms(
            arm_visible=study is None or not arms_hidden_from(request.user, study),
            study_id=study.pk if study else None,
        )
        return Response([_form_body(form, japanese) for form in forms])
