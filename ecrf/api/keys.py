"""``GET /api/v1/api-keys/``: the API keys still valid that the caller may see (her own;
an administrator's, everyone's). They are revoked on the API keys page."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecrf.accounts.models import ApiKey
from ecrf.accounts.policy import api_key_owner_seen_by
from ecrf.accounts.selectors import api_keys_valid
from ecrf.common.http import request_user


class ApiKeySummarySerializer(serializers.Serializer):
    key_id = serializers.CharField(
        help_text="The key's first characters, as the API keys page shows them."
    )
    username = serializers.CharField(help_text="Whose key it is.")
    created = serializers.DateTimeField(help_text="When it was issued.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="When it stops working.")


def _key_body(api_key: ApiKey) -> dict[str, object]:
    return {
        "key_id": api_key.token_key[:8],
        "username": api_key.user.username,
        "created": api_key.created,
        "expiry": api_key.expiry,
    }


class ApiKeysView(APIView):
    """The caller's valid API keys (an administrator: everyone's), newest first."""

    @extend_schema(responses=ApiKeySummarySerializer(many=True))
    def get(self, request: Request) -> Response:
        user = request_user(request)
        keys = api_keys_valid(owner=api_key_owner_seen_by(user))
        return Response(ApiKeySummarySerializer([_key_body(k) for k in keys], many=True).data)
