"""``GET /api/v1/access-review/``: every account, what it may reach and the history of
each permission (API contract, Review); ``/api/v1/access-reviews/``: the periodic
access reviews, recorded by administrators."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecrf.accounts.models import AccessReview
from ecrf.accounts.policy import may_read_access_review, may_record_access_review
from ecrf.accounts.selectors import AccountAccess, access_review_accounts, access_reviews
from ecrf.accounts.services import (
    ACCESS_REVIEW_CHANGE_MAX,
    ACCESS_REVIEW_COMMENT_MAX,
    access_review_record,
)
from ecrf.common.http import request_user
from ecrf.common.serializers import FreeTextField

from .permissions import read_and_write

#: Administrators and data managers read; only administrators record (others: 403).
AccessReviewReaders = read_and_write(
    may_read_access_review,
    may_record_access_review,
    read_refused="Only administrators and data managers read the access review.",
    write_refused="Only administrators record an access review.",
)


class GrantSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["role", "site", "active", "staff", "superuser", "api_key"],
        help_text="Which kind of permission.",
    )
    what = serializers.CharField(help_text="The permission, in the reader's language.")
    granted_at = serializers.DateTimeField(
        allow_null=True, help_text="Null when granted before the audit trail began."
    )
    granted_by = serializers.CharField(
        allow_null=True, help_text="A username, or system:<command or task>."
    )
    revoked_at = serializers.DateTimeField(allow_null=True, help_text="Null while it is held.")
    revoked_by = serializers.CharField(allow_null=True)


class ApiKeySerializer(serializers.Serializer):
    created = serializers.DateTimeField(help_text="When the active key was issued.")


class AccountAccessSerializer(serializers.Serializer):
    username = serializers.CharField()
    printed_name = serializers.CharField()
    role = serializers.CharField(help_text="The role code (empty: no role).")
    role_label = serializers.CharField(help_text="The role, in the reader's language.")
    sites = serializers.ListField(
        child=serializers.CharField(),
        help_text="Codes of the sites the account is a member of (sponsor-wide roles: none).",
    )
    active = serializers.BooleanField()
    last_login = serializers.DateTimeField(allow_null=True)
    mfa_enrolled = serializers.BooleanField(help_text="An authenticator is enrolled.")
    api_keys = ApiKeySerializer(many=True, help_text="The account's active API keys.")
    locked_out = serializers.BooleanField(help_text="Locked after repeated failed sign-ins.")
    grants = GrantSerializer(many=True)


class AccountChangeSerializer(serializers.Serializer):
    username = FreeTextField(max_length=150)
    change = FreeTextField(multiline=True, max_length=ACCESS_REVIEW_CHANGE_MAX)


class AccessReviewInputSerializer(serializers.Serializer):
    reviewed_on = serializers.DateField(help_text="The day the review was done.")
    comment = FreeTextField(
        multiline=True, max_length=ACCESS_REVIEW_COMMENT_MAX, help_text="What the review found."
    )
    accounts_to_change = AccountChangeSerializer(
        many=True, required=False, help_text="Each account to change, with what to change."
    )


class AccessReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reviewed_on = serializers.DateField()
    comment = serializers.CharField()
    accounts_to_change = AccountChangeSerializer(many=True)
    recorded_by = serializers.CharField()
    recorded_at = serializers.DateTimeField()


def _account_body(account: AccountAccess) -> dict[str, Any]:
    return {
        "username": account.username,
        "printed_name": account.printed_name,
        "role": account.role,
        "role_label": account.role_label,
        "sites": [site.code for site in account.sites],
        "active": account.active,
        "last_login": account.last_login,
        "mfa_enrolled": account.mfa_enrolled,
        "api_keys": [{"created": created} for created in account.api_keys],
        "locked_out": account.locked_out,
        "grants": [
            {
                "kind": grant.kind,
                "what": grant.what,
                "granted_at": grant.granted_at,
                "granted_by": grant.granted_by,
                "revoked_at": grant.revoked_at,
                "revoked_by": grant.revoked_by,
            }
            for grant in account.grants
        ],
    }


def _review_body(review: AccessReview) -> dict[str, Any]:
    return {
        "id": review.pk,
        "reviewed_on": review.reviewed_on,
        "comment": review.comment,
        "accounts_to_change": [
            {"username": change.account.username, "change": change.change}
            for change in review.changes.all()
        ],
        "recorded_by": review.recorded_by.username,
        "recorded_at": review.recorded_at,
    }


class AccessReviewAccountsView(APIView):
    """Every account: role, sites, active, last sign-in, second factor, active API keys,
    lock-out, and each permission with when and by whom it was granted or revoked."""

    permission_classes = [AccessReviewReaders]

    @extend_schema(responses=AccountAccessSerializer(many=True))
    def get(self, request: Request) -> Response:
        body = [_account_body(account) for account in access_review_accounts()]
        return Response(AccountAccessSerializer(body, many=True).data)


class AccessReviewsView(APIView):
    """The recorded access reviews, latest first; an administrator records one."""

    permission_classes = [AccessReviewReaders]

    @extend_schema(responses=AccessReviewSerializer(many=True))
    def get(self, request: Request) -> Response:
        body = [_review_body(review) for review in access_reviews()]
        return Response(AccessReviewSerializer(body, many=True).data)

    @extend_schema(request=AccessReviewInputSerializer, responses={201: AccessReviewSerializer})
    def post(self, request: Request) -> Response:
        data = AccessReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = access_review_record(
            reviewed_on=data.validated_data["reviewed_on"],
            comment=data.validated_data["comment"],
            accounts_to_change=data.validated_data.get("accounts_to_change") or [],
            performed_by=request_user(request),
        )
        review = AccessReview.objects.prefetch_related("changes__account").get(pk=review.pk)
        return Response(
            AccessReviewSerializer(_review_body(review)).data, status=status.HTTP_201_CREATED
        )
