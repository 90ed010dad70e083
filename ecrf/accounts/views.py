"""Sign-in, second factor, password change, language and API key pages, and the
access review."""

from __future__ import annotations

import csv
import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.common.forms import add_service_errors
from ecrf.common.http import AuthenticatedRequest, require_form_methods

from . import lockout, mfa
from .forms import AccessReviewForm, LoginForm, StyledPasswordChangeForm, TokenForm
from .middleware import SIGNED_IN_COOKIE
from .models import User
from .policy import (
    api_key_owner_seen_by,
    enforce,
    may_read_access_review,
    may_record_access_review,
)
from .roles import ALL_SITES_ROLES
from .selectors import AccountAccess, access_review_accounts, access_reviews, api_keys_valid
from .services import (
    access_review_record,
    api_key_revoke,
    api_token_issue,
    user_password_set,
    user_set_language,
)


def lockout_response(
    request: HttpRequest, credentials: dict | None = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """What django-axes answers once sign-in is locked after repeated failures, for the
    account or for the network address: the page, or under the API the contract's JSON."""
    address_only = not lockout.account_locked(sign_in_username(request, credentials))
    message = lockout.address_locked_message() if address_only else lockout.account_locked_message()
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=403)
    return render(
        request,
        "accounts/locked.html",
        {"message": message, "address_only": address_only},
        status=403,
    )


def sign_in_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username a sign-in attempt names, as django-axes counts failures by it: no
    longer than a username can be, so that an overlong one typed or sent is counted
    (under its first characters) instead of failing to be stored."""
    name = (credentials or {}).get("username") or request.POST.get("username")
    if not isinstance(name, str):
        return None
    return name[: User._meta.get_field("username").max_length]


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


class LoginView(auth_views.LoginView):
    http_method_names = ["get", "head", "post"]
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # A method the page does not take answers 405 even to a signed-in user.
        if request.method and request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        # Secure wherever the session cookie is (production): it says she has signed in.
        response.set_cookie(
            SIGNED_IN_COOKIE,
            "1",
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response.delete_cookie(SIGNED_IN_COOKIE)
        messages.info(request, _("You have signed out."))
        return response


def _check_token(form: TokenForm, device: TOTPDevice) -> bool:
    """Verify the code against the device, which slows down repeated wrong codes."""
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        form.add_error("token", _("Too many wrong codes. Wait a moment before trying again."))
        return False
    if not device.verify_token(form.cleaned_data["token"]):
        form.add_error("token", _("This code is not correct or has expired; try the next one."))
        return False
    return True


@login_required
@require_form_methods
def mfa_setup(request: AuthenticatedRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code, confirm with one code."""
    if mfa.confirmed_device(request.user):
        return redirect("accounts:mfa_verify")
    device = mfa.pending_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _check_token(form, device):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        messages.success(request, _("Two-factor authentication is set up."))
        return redirect(_safe_next(request, reverse("core:home")))
    context = {
        "form": form,
        "qr_code": mfa.qr_code_data_uri(device),
        "secret": mfa.secret_base32(device),
    }
    return render(request, "accounts/mfa_setup.html", context, status=400 if form.errors else 200)


@login_required
@require_form_methods
def mfa_verify(request: AuthenticatedRequest) -> HttpResponse:
    """The second step of sign-in: a code from the enrolled authenticator."""
    device = mfa.confirmed_device(request.user)
    if device is None:
        return redirect("accounts:mfa_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _check_token(form, device):
        otp_login(request, device)
        return redirect(_safe_next(request, reverse("core:home")))
    return render(
        request, "accounts/mfa_verify.html", {"form": form}, status=400 if form.errors else 200
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    http_method_names = ["get", "head", "post"]
    template_name = "accounts/password_change.html"
    form_class = StyledPasswordChangeForm
    success_url = reverse_lazy("core:home")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        user = self.request.user
        user_password_set(
            user=user,  # type: ignore[arg-type]
            password=form.cleaned_data["new_password1"],
            performed_by=user,  # type: ignore[arg-type]
        )
        update_session_auth_hash(self.request, user)  # type: ignore[arg-type]
        messages.success(
            self.request, _("Your password has been changed; your API keys were revoked.")
        )
        return HttpResponseRedirect(self.get_success_url())


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch between Japanese and English; remembered in the profile of a signed-in user."""
    language = request.POST.get("language", "")
    target = _safe_next(request, reverse("core:home"))
    response: HttpResponse = HttpResponseRedirect(target)
    if language not in {"ja", "en"}:
        return response
    if request.user.is_authenticated:
        user_set_language(user=request.user, language=language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        samesite="Lax",
        httponly=True,
        secure=settings.LANGUAGE_COOKIE_SECURE,
    )
    return response


@login_required
@require_form_methods
def api_token(request: AuthenticatedRequest) -> HttpResponse:
    """Her API keys: issue one (shown once), see those still valid and revoke them; an
    administrator sees and revokes everyone's."""
    key = None
    refusal: list[str] = []
    if request.method == "POST" and "revoke" in request.POST:
        owner = api_key_owner_seen_by(request.user)
        token_key = request.POST["revoke"]
        api_key = (
            api_keys_valid(owner=owner).filter(token_key=token_key).first()
            if KEY_PREFIX.fullmatch(token_key)
            else None
        )
        if api_key is None:
            raise Http404
        api_key_revoke(api_key=api_key, performed_by=request.user)
        messages.success(request, _("The API key %(key)s is revoked.") % {"key": api_key.label})
        return redirect("accounts:api_token")
    if request.method == "POST":
        try:
            key = api_token_issue(user=request.user, performed_by=request.user).key
        except ValidationError as exc:
            refusal = list(exc.messages)
    keys = [
        {
            "api_key": api_key,
            "created": local_moment(api_key.created),
            "expiry": local_moment(api_key.expiry),
        }
        for api_key in api_keys_valid(owner=api_key_owner_seen_by(request.user))
    ]
    return render(
        request,
        "accounts/api_token.html",
        {
            "key": key,
            "keys": keys,
            "refusal": refusal,
            "ttl_days": settings.API_KEY_TTL.days,
            "show_owner": api_key_owner_seen_by(request.user) is None,
        },
        status=400 if refusal else 200,
    )


#: What names a key on the API keys page: its first characters (knox's ``token_key``).
KEY_PREFIX = re.compile(r"[0-9a-fA-F]{1,25}")


def local_moment(moment: dt.datetime | None) -> str:
    """A time in the installation's zone with its offset (``2026-03-01 09:30 +09:00``)."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def _yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


def _sites_text(account: AccountAccess) -> str:
    if not account.sites:
        return _("All sites") if account.role in ALL_SITES_ROLES else ""
    return ", ".join(site.code for site in account.sites)


#: The CSV's columns, one row per permission of an account.
ACCESS_REVIEW_CSV_COLUMNS = (
    gettext_lazy("Username"),
    gettext_lazy("Name"),
    gettext_lazy("Role"),
    gettext_lazy("Sites"),
    gettext_lazy("Active"),
    gettext_lazy("Last sign-in"),
    gettext_lazy("Two-factor authentication"),
    gettext_lazy("Active API keys"),
    gettext_lazy("Locked out"),
    gettext_lazy("Permission"),
    gettext_lazy("Granted at"),
    gettext_lazy("Granted by"),
    gettext_lazy("Revoked at"),
    gettext_lazy("Revoked by"),
)


def _csv_rows(account: AccountAccess) -> list[list[str]]:
    head = [
        account.username,
        account.printed_name,
        account.role_label,
        _sites_text(account),
        _yes_no(account.active),
        local_moment(account.last_login),
        _yes_no(account.mfa_enrolled),
        "; ".join(local_moment(created) for created in account.api_keys) or "0",
        _yes_no(account.locked_out),
    ]
    if not account.grants:
        return [[*head, "", "", "", "", ""]]
    return [
        [
            *head,
            grant.what,
            local_moment(grant.granted_at),
            grant.granted_by or "",
            local_moment(grant.revoked_at),
            grant.revoked_by or "",
        ]
        for grant in account.grants
    ]


@login_required
@require_form_methods
def access_review(request: AuthenticatedRequest) -> HttpResponse:
    """Who has access to what, since when and granted by whom; the periodic reviews,
    which an administrator records here (data managers read)."""
    enforce(may_read_access_review(request.user))
    accounts = access_review_accounts()
    may_record = bool(may_record_access_review(request.user))
    form = None
    if may_record:
        form = AccessReviewForm(
            request.POST or None,
            usernames=[a.username for a in accounts],
            initial={"reviewed_on": timezone.localdate()},
        )
    if request.method == "POST":
        enforce(may_record_access_review(request.user))
        if form is not None and form.is_valid():
            try:
                access_review_record(
                    reviewed_on=form.cleaned_data["reviewed_on"],
                    comment=form.cleaned_data["comment"],
                    accounts_to_change=form.accounts_to_change(),
                    performed_by=request.user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The access review is recorded."))
                return redirect("accounts:access_review")
    rows = [
        {
            "account": account,
            "sites": _sites_text(account),
            "last_login": local_moment(account.last_login),
            "api_keys": [local_moment(created) for created in account.api_keys],
            "grants": [
                {
                    "what": grant.what,
                    "granted_at": local_moment(grant.granted_at),
                    "granted_by": grant.granted_by or "",
                    "revoked_at": local_moment(grant.revoked_at),
                    "revoked_by": grant.revoked_by or "",
                }
                for grant in account.grants
            ],
            "change": form.change_field(account.username) if form is not None else None,
        }
        for account in accounts
    ]
    reviews = [
        {"review": review, "recorded_at": local_moment(review.recorded_at)}
        for review in access_reviews()
    ]
    return render(
        request,
        "accounts/access_review.html",
        {
            "rows": rows,
            "reviews": reviews,
            "form": form,
            "zone": timezone.get_current_timezone_name(),
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@require_safe
def access_review_csv(request: AuthenticatedRequest) -> HttpResponse:
    """The access review as CSV, one row per permission of each account, in UTF-8 with a
    byte order mark so that a spreadsheet opens the Japanese labels as such."""
    enforce(may_read_access_review(request.user))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-review.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([str(label) for label in ACCESS_REVIEW_CSV_COLUMNS])
    for account in access_review_accounts():
        writer.writerows(_csv_rows(account))
    return response
