"""API key authentication (``Authorization: Token <key>``, API contract) with
django-rest-knox keys: stored as digests, with an expiry.

A key is refused (401) when it is unknown, malformed or past its expiry, or its owner is
deactivated; it is refused with 403 when its owner's account is locked after repeated
failed sign-ins, or when the study requires two-factor authentication and the owner has
no enrolled authenticator (a key must not be a way around the second factor).
"""

from __future__ import annotations

import re
from hmac import compare_digest
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.request import Request

from .lockout import account_failure_limit, account_failures_sql, account_locked_message
from .mfa import mfa_required
from .models import ApiKey, User

#: What a key can look like: issued keys are 64 hexadecimal characters, keys carried
#: over from before are 40; anything else is refused before reaching the database.
KEY_FORMAT = re.compile(r"[0-9a-fA-F]{32,128}")


class ApiKeyAuthentication(TokenAuthentication):
    """Knox's token authentication, in one query, with the study's refusals on top."""

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        return super().authenticate(request)  # type: ignore[no-any-return]

    def authenticate_credentials(self, token: bytes) -> tuple[User, ApiKey]:
        try:
            key = token.decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        if not KEY_FORMAT.fullmatch(key):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        candidates = (
            ApiKey.objects.filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
            .annotate(
                owner_mfa_enrolled=Exists(
                    TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)
                ),
                owner_failures=account_failures_sql("user__username"),
            )
        )
        digest = hash_token(key)
        for api_key in candidates:
            if compare_digest(digest, api_key.digest):
                return self._validate(api_key)
        raise exceptions.AuthenticationFailed(_("Invalid token."))

    def _validate(self, api_key: Any) -> tuple[User, ApiKey]:
        if api_key.expiry is not None and api_key.expiry <= timezone.now():
            raise exceptions.AuthenticationFailed(_("This API key has expired; issue a new one."))
        user: User = api_key.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if api_key.owner_failures >= account_failure_limit():
            raise exceptions.PermissionDenied(account_locked_message())
        if not api_key.owner_mfa_enrolled and mfa_required():
            raise exceptions.PermissionDenied(
                _(
                    "The study requires two-factor authentication: this key's owner must "
                    "enrol an authenticator before the key can be used."
                )
            )
        return user, api_key


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the published OpenAPI document describes the key: ``Authorization: Token <key>``
    (API contract), under the scheme name DRF's token authentication had."""

    target_class = ApiKeyAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )
        return definition
