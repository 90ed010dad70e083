"""Exports through the API (API contract, Core flow): ask, poll, download.

``POST /api/v1/exports/`` answers 202 with the job; ``GET /api/v1/exports/{id}/`` its
status and progress, and ``download_url`` once done. Only the user who asked sees a job:
anyone else gets 404. Roles that may not export get 403 on the collection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ecrf.common.http import method_not_taken, request_user
from ecrf.common.serializers import FreeTextField
from ecrf.studies.models import Site

from . import selectors, services
from .exceptions import ExportGone
from .formats import FORMATS, formats_for
from .models import ExportJob, ExportStatus
from .views import file_response

KINDS: list[str] = list(dict.fromkeys(kind for kind, _fmt in FORMATS))
FORMAT_NAMES: list[str] = list(dict.fromkeys(fmt for _kind, fmt in FORMATS))


class MayExport(BasePermission):
    """Export roles use the collection (others: 403); a job's own route answers 404 to
    anyone but its owner, whatever her role, so nobody learns that it exists."""

    message = _("Only monitors, data managers, statisticians and administrators export data.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        lookup = getattr(view, "lookup_url_kwarg", None) or "pk"
        if view.kwargs.get(lookup) is not None or method_not_taken(request, view):
            return True
        return selectors.can_export(user)


class FileRenderer(BaseRenderer):
    """Lets a download be asked for with any ``Accept``; errors still answer JSON."""

    media_type = "*/*"
    format = "file"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


class ExportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    format = serializers.ChoiceField(
        choices=FORMAT_NAMES,
        required=False,
        help_text=(
            "audit_trail: csv, odm; clinical_data: csv, odm, xpt; data_dictionary: csv; "
            "sdtm: dataset-json, xpt; casebook: pdf (with subject_id); archive: none "
            "(one site's zip)."
        ),
    )
    site = FreeTextField(
        max_length=20,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Site code, e.g. S01; empty: every site the caller sees.",
    )
    subject_id = FreeTextField(max_length=20, required=False, allow_null=True, allow_blank=True)
    since = serializers.DateField(
        required=False, allow_null=True, help_text="First day included (study time zone)."
    )
    until = serializers.DateField(
        required=False, allow_null=True, help_text="Last day included (study time zone)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built for each request, in the caller's language; "{input}" is DRF's placeholder.
        self.fields["kind"].error_messages["invalid_choice"] = gettext(
            "Unknown kind of export “{input}”. Expected one of: %(allowed)s."
        ) % {"allowed": ", ".join(KINDS)}
        self.fields["format"].error_messages["invalid_choice"] = gettext(
            "Unknown format “{input}”. Expected one of: %(allowed)s."
        ) % {"allowed": ", ".join(FORMAT_NAMES)}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A kind written in one format only (the archive) needs no ``format``."""
        if not attrs.get("format"):
            formats = formats_for(attrs["kind"])
            if len(formats) != 1:
                raise serializers.ValidationError(
                    {"format": [self.fields["format"].error_messages["required"]]}
                )
            attrs["format"] = formats[0]
        return attrs


class ExportJobSerializer(serializers.ModelSerializer):
    # An export of every site the caller sees names none.
    site: serializers.SlugRelatedField[Site] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "kind",
            "format",
            "status",
            "progress",
            "site",
            "subject_id",
            "since",
            "until",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "checksum",
            "size",
            "chain_head",
            "row_count",
            "error",
            "download_url",
        ]
        read_only_fields = fields

    # None until the file is ready (and again once it has expired).
    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportStatus.DONE or selectors.export_is_expired(job):
            return None
        path = reverse("export-download", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own exports."""

    serializer_class = ExportJobSerializer
    permission_classes = [MayExport]
    queryset = ExportJob.objects.none()
    lookup_value_regex = r"[0-9a-fA-F-]{32,36}"

    def get_queryset(self) -> Any:
        return selectors.exports_of(self.request.user)

    def get_object(self) -> ExportJob:
        return selectors.export_get(self.request.user, self.kwargs["pk"])

    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            202: ExportJobSerializer,
            400: OpenApiResponse(description="A field is wrong; each message names it."),
            403: OpenApiResponse(description="The caller's role may not export."),
        },
        description=(
            "Ask for an export of the caller's sites (narrowed by `site`, `subject_id`, "
            "`since`, `until`). It runs in the background: poll the job until `status` "
            "is `done`, then fetch `download_url`."
        ),
    )
    def create(self, request: Request) -> Response:
        data = ExportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job = services.export_request(
            performed_by=request_user(request),
            kind=values["kind"],
            format=values["format"],
            site=values.get("site") or None,
            subject_id=values.get("subject_id") or None,
            since=values.get("since"),
            until=values.get("until"),
        )
        job.refresh_from_db()
        body = ExportJobSerializer(job, context=self.get_serializer_context()).data
        location = request.build_absolute_uri(reverse("export-detail", args=[job.pk]))
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            403: OpenApiResponse(description="The caller may no longer see what it holds."),
            404: OpenApiResponse(description="No such export of the caller's."),
            409: OpenApiResponse(description="The export is not finished."),
            410: OpenApiResponse(description="The export expired; its file was deleted."),
        },
        description=(
            "The export's file, to the user who asked for it, while she could still make "
            "the same export (403 once her access has narrowed). The header "
            "`X-Checksum-SHA256` carries the checksum also given as `checksum`, and "
            "`X-Audit-Chain-Head` the audit chain head given as `chain_head`."
        ),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="download",
        renderer_classes=[JSONRenderer, FileRenderer],
    )
    def download(self, request: Request, pk: str) -> Any:
        try:
            job, path = selectors.export_file_for(request.user, pk)
        except ExportGone as exc:
            return Response({"detail": exc.detail}, status=status.HTTP_410_GONE)
        return file_response(job, path)
