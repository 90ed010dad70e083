"""``GET /api/v1/audit-events/``: the audit trail with its risk signals, filtered on the
server and cursor-paginated; ``/api/v1/audit-reviews/``: review sign-offs (API contract,
Review)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecrf.accounts.policy import may_review_audit, may_sign_off_audit_review
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common.http import request_user
from ecrf.common.serializers import FreeTextField
from ecrf.review.forms import AuditFilterForm
from ecrf.review.models import AuditReview, Signal
from ecrf.review.selectors import PAGE_SIZE, EntryRow, audit_page, reviews_visible_to
from ecrf.review.services import audit_index_update, audit_review_record
from ecrf.studies.models import Site

from .fields import InputDateTimeField
from .permissions import read_and_write

#: Pages of the API are larger than the web page's; a caller may ask for fewer.
API_PAGE_MAX = 500


#: Monitors (their sites), data managers and admins read; monitors and data managers
#: sign off (others: 403).
AuditReviewers = read_and_write(
    may_review_audit,
    may_sign_off_audit_review,
    read_refused="Only monitors, data managers and administrators review the audit trail.",
    write_refused="Only monitors and data managers sign off an audit-trail review.",
)


class AuditEventSerializer(serializers.Serializer):
    timestamp = serializers.CharField(help_text="ISO 8601 at the site, with the offset.")
    user = serializers.CharField(help_text="A username, or system:<command or task>.")
    role = serializers.CharField(help_text="The role at the time (empty for the system).")
    site = serializers.CharField(allow_null=True, help_text="The site code.")
    subject_id = serializers.CharField(help_text="Empty for records of no participant.")
    record = serializers.CharField(help_text="The form code (or the record's name).")
    record_id = serializers.CharField()
    field = serializers.CharField()
    old_value = serializers.CharField(help_text="As the audit-trail export writes it.")
    new_value = serializers.CharField()
    reason = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "update", "delete"])
    signals = serializers.ListField(
        child=serializers.ChoiceField(choices=Signal.values),
        help_text="Risk signals: " + ", ".join(Signal.values) + ".",
    )


class AuditEventPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    results = AuditEventSerializer(many=True)


def _event(entry: EntryRow, sites: dict[int, Site]) -> dict[str, Any]:
    """An entry as the contract gives it; ``sites`` are those the reader sees, by id."""
    site = sites.get(entry.site_id) if entry.site_id is not None else None
    zone = zoneinfo.ZoneInfo(site.time_zone if site else settings.TIME_ZONE)
    return {
        "timestamp": entry.at.astimezone(zone).isoformat(),
        "user": entry.actor,
        "role": entry.role,
        "site": site.code if site else None,
        "subject_id": entry.subject_id,
        "record": entry.record,
        "record_id": entry.record_id,
        "field": entry.field,
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "reason": entry.reason,
        "action": entry.action,
        "signals": list(entry.signals),
    }


_FILTERS = [
    OpenApiParameter("site", OpenApiTypes.STR, description="Site code."),
    OpenApiParameter("subject_id", OpenApiTypes.STR),
    OpenApiParameter("user", OpenApiTypes.STR, description="Username or system:<name>."),
    OpenApiParameter("role", OpenApiTypes.STR),
    OpenApiParameter("record", OpenApiTypes.STR, description="Form code."),
    OpenApiParameter("field", OpenApiTypes.STR),
    OpenApiParameter("action", OpenApiTypes.STR, enum=["create", "update", "delete"]),
    OpenApiParameter(
        "since", OpenApiTypes.STR, description="YYYY-MM-DD (study zone) or a time with offset."
    ),
    OpenApiParameter("until", OpenApiTypes.STR, description="Inclusive day, or a time."),
    OpenApiParameter("reason", OpenApiTypes.STR, description="Text the reason contains."),
    OpenApiParameter(
        "signal", OpenApiTypes.STR, enum=["any", *Signal.values], description="any: any signal."
    ),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous page's next."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description=f"At most {API_PAGE_MAX}."),
]


class AuditEventsView(APIView):
    """The audit trail, one row per changed field, with its risk signals."""

    permission_classes = [AuditReviewers]

    @extend_schema(parameters=_FILTERS, responses=AuditEventPageSerializer)
    def get(self, request: Request) -> Response:
        user = request_user(request)
        params = request.query_params
        form = AuditFilterForm(
            {k: params[k] for k in AuditFilterForm.base_fields if k in params}, user=user
        )
        errors: dict[str, list[str]] = {}
        if not form.is_valid():
            errors.update({k: [str(m) for m in v] for k, v in form.errors.items()})
        cursor = params.get("cursor", "")
        if cursor and not cursor.isdigit():
            errors["cursor"] = ["Use the next link of the previous page."]
        size_text = params.get("page_size", str(PAGE_SIZE))
        if not size_text.isdigit() or not 1 <= int(size_text) <= API_PAGE_MAX:
            errors["page_size"] = [f"A whole number from 1 to {API_PAGE_MAX}."]
        if errors:
            raise ValidationError(errors)
        audit_index_update(batches=1)
        page = audit_page(
            user,
            form.filters(),
            after=int(cursor) if cursor else None,
            size=int(size_text),
        )
        sites = {site.pk: site for site in form.sites.values()}
        following = None
        if page.next_after is not None:
            query = params.copy()
            query["cursor"] = str(page.next_after)
            following = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        body = {"next": following, "results": [_event(entry, sites) for entry in page.entries]}
        return Response(AuditEventPageSerializer(body).data)


class AuditReviewInputSerializer(serializers.Serializer):
    site = serializers.CharField(max_length=8, help_text="Site code.")
    through = InputDateTimeField(help_text="The time reviewed up to, with its offset.")
    comment = FreeTextField(multiline=True, max_length=4000, help_text="What the review found.")

    def validate_through(self, value: dt.datetime) -> dt.datetime:
        raw = parse_datetime(str(self.initial_data.get("through", "")))
        if raw is None or raw.tzinfo is None:
            raise serializers.ValidationError(
                "Give the time with its offset, e.g. 2026-03-15T18:00:00+09:00."
            )
        return value


class AuditReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    site = serializers.CharField(source="site.code")
    through = serializers.DateTimeField()
    comment = serializers.CharField()
    reviewed_by = serializers.CharField(source="reviewed_by.username")
    recorded_at = serializers.DateTimeField()


class AuditReviewsView(APIView):
    """Audit-trail review sign-offs: listed for reviewers, recorded by monitors and data
    managers; each one is itself in the audit trail."""

    permission_classes = [AuditReviewers]

    @extend_schema(responses=AuditReviewSerializer(many=True))
    def get(self, request: Request) -> Response:
        reviews = reviews_visible_to(request_user(request))[:200]
        return Response(AuditReviewSerializer(reviews, many=True).data)

    @extend_schema(request=AuditReviewInputSerializer, responses={201: AuditReviewSerializer})
    def post(self, request: Request) -> Response:
        user = request_user(request)
        data = AuditReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = sites_visible_to(user).filter(code=data.validated_data["site"]).first()
        if site is None:
            raise ValidationError({"site": ["No site of yours has this code."]})
        review: AuditReview = audit_review_record(
            site=site,
            through=data.validated_data["through"],
            comment=data.validated_data["comment"],
            performed_by=user,
        )
        return Response(AuditReviewSerializer(review).data, status=status.HTTP_201_CREATED)
