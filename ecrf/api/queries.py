"""Queries through the API (API contract, Core flow): open, answer, close, list."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ecrf.accounts.policy import may_answer_query, may_raise_query
from ecrf.common import catalogue
from ecrf.common.http import request_user
from ecrf.common.serializers import FreeTextField
from ecrf.participants.selectors import participants_visible_to
from ecrf.queries import selectors, services
from ecrf.queries.models import Query, QueryStatus

from .permissions import read_any_role_write

#: The list's filters (API contract: ``status`` and ``participant``; the others are ours).
QUERY_FILTERS = ("status", "participant", "site", "record", "form", "age", "raised_by")


class QueryMessageSerializer(serializers.Serializer):
    kind = serializers.CharField()
    text = serializers.CharField(
        source="text_shown",
        help_text="The step's words: an edit check's in the language of Accept-Language, a "
        "person's as written.",
    )
    author = serializers.CharField(source="author.get_username", allow_null=True, default=None)
    written_at = serializers.DateTimeField()


class QuerySerializer(serializers.ModelSerializer):
    subject_id = serializers.CharField(source="participant.subject_id", read_only=True)
    messages = QueryMessageSerializer(many=True, read_only=True)
    edit_check = serializers.CharField(
        read_only=True, help_text="The edit check that raised it; empty when a person did."
    )

    class Meta:
        model = Query
        fields = [
            "id",
            "participant",
            "subject_id",
            "record",
            "record_id",
            "field",
            "status",
            "opened_at",
            "edit_check",
            "messages",
        ]
        read_only_fields = fields


class QueryOpenSerializer(serializers.Serializer):
    participant = serializers.IntegerField()
    record = FreeTextField(max_length=40)
    field = FreeTextField(max_length=60)
    text = FreeTextField(multiline=True, max_length=2000)
    record_id = serializers.IntegerField(required=False, allow_null=True)


class QueryTextSerializer(serializers.Serializer):
    text = FreeTextField(multiline=True, max_length=2000)


class QueryOptionalTextSerializer(serializers.Serializer):
    text = FreeTextField(multiline=True, max_length=2000, required=False, allow_blank=True)


class QueryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Queries of the caller's sites; another site's query answers 404."""

    serializer_class = QuerySerializer
    permission_classes = [read_any_role_write(may_raise_query)]
    queryset = Query.objects.none()
    lookup_value_regex = r"\d+"

    def _query(self, request: Request, pk: str) -> Query:
        query = selectors.query_get(request.user, int(pk))
        self.check_object_permissions(request, query)
        return query

    def get_queryset(self) -> Any:
        params = self.request.query_params
        errors: dict[str, str] = {}
        for name in QUERY_FILTERS:
            if "\x00" in params.get(name, ""):
                errors[name] = "Null characters are not allowed."
        status_filter = params.get("status") or None
        if status_filter and status_filter not in QueryStatus.values:
            errors["status"] = f"Expected one of {', '.join(QueryStatus.values)}."
        participant = params.get("participant") or None
        if participant is not None and not (
            participant.isascii()
            and participant.isdigit()
            and int(participant) <= selectors.LARGEST_ID
        ):
            errors["participant"] = "Expected a participant id."
        forms = [f.code for f in catalogue.queryable_forms()]
        record = params.get("record") or params.get("form") or None
        for name in ("record", "form"):
            if params.get(name) and params[name] not in forms:
                errors[name] = f"Expected one of {', '.join(forms)}."
        if params.get("record") and params.get("form") and params["record"] != params["form"]:
            errors["form"] = "Give the form once, as record or as form."
        age = params.get("age") or None
        if age is not None and age not in selectors.AGE_BANDS:
            errors["age"] = f"Expected one of {', '.join(selectors.AGE_BANDS)}."
        if errors:
            raise ValidationError(errors)
        return selectors.queries_visible_to(
            self.request.user,
            status=status_filter,
            participant_id=int(participant) if participant else None,
            site_code=params.get("site") or None,
            record=record,
            age=age,
            raised_by=params.get("raised_by") or None,
        ).order_by("-opened_at", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=QueryStatus.values),
            OpenApiParameter("participant", int, description="The participant's id."),
            OpenApiParameter(
                "site",
                str,
                description="A site code; a site the caller does not see lists nothing.",
            ),
            OpenApiParameter(
                "record",
                str,
                enum=[f.code for f in catalogue.queryable_forms()],
                description="The form the queries are on (its code, as in POST).",
            ),
            OpenApiParameter("form", str, description="The same as record."),
            OpenApiParameter(
                "age",
                str,
                enum=list(selectors.AGE_BANDS),
                description=(
                    "Whole days since the query was opened, counted on the calendar of "
                    "the participant's site: 0-7, 8-30 or 31 and over."
                ),
            ),
            OpenApiParameter(
                "raised_by", str, description="The username of whoever raised the query."
            ),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=QueryOpenSerializer, responses={201: QuerySerializer})
    def create(self, request: Request) -> Response:
        data = QueryOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        participant = (
            participants_visible_to(request.user)
            .filter(pk=data.validated_data["participant"])
            .first()
        )
        if participant is None:
            raise ValidationError({"participant": "No such participant at your sites."})
        query = services.query_open(
            participant=participant,
            record=data.validated_data["record"],
            field=data.validated_data["field"],
            text=data.validated_data["text"],
            record_id=data.validated_data.get("record_id"),
            performed_by=request_user(request),
        )
        return Response(QuerySerializer(query).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=QueryTextSerializer, responses={200: QuerySerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[read_any_role_write(may_answer_query)],
    )
    def respond(self, request: Request, pk: str) -> Response:
        query = self._query(request, pk)
        data = QueryTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = services.query_respond(
            query=query, text=data.validated_data["text"], performed_by=request_user(request)
        )
        return Response(QuerySerializer(selectors.query_get(request.user, query.pk)).data)

    @extend_schema(request=QueryOptionalTextSerializer, responses={200: QuerySerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        query = self._query(request, pk)
        data = QueryOptionalTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = services.query_close(
            query=query,
            text=data.validated_data.get("text", ""),
            performed_by=request_user(request),
        )
        return Response(QuerySerializer(selectors.query_get(request.user, query.pk)).data)

    @extend_schema(request=QueryTextSerializer, responses={200: QuerySerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        query = self._query(request, pk)
        data = QueryTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = services.query_reopen(
            query=query, text=data.validated_data["text"], performed_by=request_user(request)
        )
        return Response(QuerySerializer(selectors.query_get(request.user, query.pk)).data)
