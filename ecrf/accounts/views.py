"""Sign-in, second factor, password change, language and API key pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.common.http import AuthenticatedRequest, require_form_methods

from . import mfa
from .forms import LoginForm, StyledPasswordChangeForm, TokenForm
from .middleware import SIGNED_IN_COOKIE
from .services import api_token_issue, user_set_language


def lockout_response(
    request: HttpRequest, credentials: dict | None = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """What django-axes answers once an account is locked after repeated failures."""
    return render(request, "accounts/locked.html", status=403)


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
        response.set_cookie(SIGNED_IN_COOKIE, "1", httponly=True, samesite="Lax")
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
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)


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
    response.set_cookie("django_language", language, samesite="Lax", httponly=True)
    return response


@login_required
@require_form_methods
def api_token(request: AuthenticatedRequest) -> HttpResponse:
    """Issue an API key for the signed-in user (shown once)."""
    key = None
    if request.method == "POST":
        key = api_token_issue(user=request.user, performed_by=request.user).key
    return render(request, "accounts/api_token.html", {"key": key})
