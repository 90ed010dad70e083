"""Per-user language, the second factor of her session, enforced two-factor
authentication and the idle-session notice."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_otp import middleware as otp_middleware
from django_otp.models import Device

from ecrf.common.compiled import CompiledRead

from .mfa import confirmed_device, mfa_required

SIGNED_IN_COOKIE = "ecrf_signed_in"

IDLE_RENEWED_KEY = "_idle_renewed_at"

MFA_EXEMPT_PREFIXES = (
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/mfa/",
    "/accounts/language/",
    "/static/",
    "/healthz",
    "/i18n/",
)


class UserLanguageMiddleware:
    """A signed-in user sees the app in the language of her profile."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        elif (
            user is not None
            and not user.is_authenticated
            and request.COOKIES.get(SIGNED_IN_COOKIE)
            and not request.path.startswith(("/api/", "/static/", "/healthz"))
        ):
            messages.info(
                request,
                _("Your session ended after a period without activity. Please sign in again."),
            )
            response = self.get_response(request)
            response.delete_cookie(SIGNED_IN_COOKIE)
            return response
        return self.get_response(request)


class IdleTimeoutMiddleware:
    """Renew a signed-in session's idle timeout (``SESSION_COOKIE_AGE``) as she works.

    The renewal saves the session, which sets its expiry ``SESSION_COOKIE_AGE`` from now.
    It happens when the last one is ``SESSION_RENEWAL_SECONDS`` (a minute) old or more,
    or whenever the request changed the session anyway, so most requests write nothing
    beyond their own work. A session therefore ends between ``SESSION_COOKIE_AGE`` less
    that minute and ``SESSION_COOKIE_AGE`` after her last request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        # A session that holds a sign-in: an API request signed by its key has none, and
        # gets none.
        if (
            session is None
            or SESSION_KEY not in session
            or user is None
            or not user.is_authenticated
        ):
            return response
        now = time.time()
        renewed = session.get(IDLE_RENEWED_KEY)
        if (
            session.modified
            or not isinstance(renewed, int | float)
            or not 0 <= now - renewed < settings.SESSION_RENEWAL_SECONDS
        ):
            session[IDLE_RENEWED_KEY] = now
        return response


class MFARequiredMiddleware:
    """A signed-in user who has not passed her second factor reaches only the MFA pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and mfa_required()
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": _("Two-factor authentication is required for this session.")},
                    status=403,
                )
            target = "accounts:mfa_verify" if confirmed_device(user) else "accounts:mfa_setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class OTPMiddleware(otp_middleware.OTPMiddleware):
    """django-otp's middleware (``request.user.otp_device``, ``is_verified()``); the
    device that verified the session is read by a compiled statement, as every
    signed-in request reads it."""

    def _device_from_persistent_id(self, persistent_id: str) -> Device | None:
        model_label, _slash, device_id = self._normalize_persistent_id(persistent_id).rpartition(
            "/"
        )
        try:
            app_label, model_name = model_label.split(".")
            model = apps.get_model(app_label, model_name)
            read = _device_read(model)
            return read.first(int(device_id)) if read is not None else None
        except (ValueError, LookupError):
            return None


#: The read of each kind of device by its id.
_DEVICE_READS: dict[type[Device], CompiledRead[Device]] = {}


def _device_read(model: type[Any]) -> CompiledRead[Device] | None:
    if not issubclass(model, Device):
        return None
    read = _DEVICE_READS.get(model)
    if read is None:
        read = _DEVICE_READS[model] = CompiledRead(
            lambda pk: model.objects.filter(pk=pk).order_by("pk")[:1], -1
        )
    return read
