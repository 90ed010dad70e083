"""Every write to accounts: creating study users, their sites, tokens and preferences."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.authtoken.models import Token

from ecrf.audit.context import change_context
from ecrf.studies.models import Site

from .models import SiteMembership, User
from .roles import SITE_BOUND_ROLES, Role


@transaction.atomic
def user_create(
    *,
    username: str,
    role: str,
    password: str,
    site_codes: list[str],
    performed_by: User | None,
    printed_name: str = "",
    email: str = "",
    language: str = "ja",
    validate: bool = True,
) -> User:
    """Create a study user with one role and, for site-bound roles, her sites.

    Coordinators and investigators work at the sites named, monitors see them;
    data managers, statisticians and admins see every site (API contract).
    """
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [
            _("Unknown role %(role)s; expected one of %(roles)s.")
            % {"role": role, "roles": ", ".join(Role.values)}
        ]
    if User.objects.filter(username=username).exists():
        errors["username"] = [
            _("A user named %(username)s already exists.") % {"username": username}
        ]
    sites = list(Site.objects.filter(code__in=site_codes))
    unknown = sorted(set(site_codes) - {s.code for s in sites})
    if unknown:
        errors["site"] = [
            ngettext(
                "Unknown site code: %(codes)s.", "Unknown site codes: %(codes)s.", len(unknown)
            )
            % {"codes": ", ".join(unknown)}
        ]
    if role in SITE_BOUND_ROLES and not site_codes:
        errors.setdefault("site", []).append(
            _("Users with the role %(role)s must be given at least one site.")
            % {"role": Role(role).label}
        )
    candidate = User(username=username, role=role, email=email, printed_name=printed_name)
    if validate and "role" not in errors:
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    with change_context(performed_by=performed_by):
        user = User(
            username=username,
            role=role,
            email=email,
            printed_name=printed_name or username,
            language=language,
            is_staff=role == Role.ADMIN,
        )
        user.set_password(password)
        user.full_clean()
        user.save()
        if role in SITE_BOUND_ROLES:
            SiteMembership.objects.bulk_create(SiteMembership(user=user, site=s) for s in sites)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> None:
    """Remember the language a user works in (Japanese or English)."""
    with change_context(performed_by=user):
        user.language = language
        user.full_clean(exclude=["password"])
        user.save(update_fields=["language"])


@transaction.atomic
def api_token_issue(*, user: User, performed_by: User | None) -> Token:
    """Issue a new API key for ``user``; an earlier key of hers stops working."""
    with change_context(performed_by=performed_by):
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)
