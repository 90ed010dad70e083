"""Every write to accounts: creating study users, their sites, passwords, API keys and
preferences, and the periodic access reviews."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ecrf.audit.context import change_context
from ecrf.studies.models import Site

from .lockout import account_locked
from .mfa import confirmed_device, mfa_required
from .models import AccessReview, AccessReviewChange, ApiKey, SiteMembership, User
from .policy import enforce, may_record_access_review, may_revoke_api_key
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


@dataclass(frozen=True)
class IssuedApiKey:
    """A key just issued: the stored row (its digest only) and the key itself, which is
    shown once and never again."""

    api_key: ApiKey
    key: str


@transaction.atomic
def api_token_issue(*, user: User, performed_by: User | None) -> IssuedApiKey:
    """Issue a new API key for ``user``, valid for ``API_KEY_TTL`` (90 days unless set); an
    earlier key of hers stops working.

    Only its digest is stored. Where the study requires two-factor authentication, a
    user without an enrolled authenticator is refused a key (a key must not be a way
    around the second factor); so is a deactivated user, or one locked out.
    """
    if not user.is_active:
        raise ValidationError(
            {"user": [_("%(username)s is deactivated.") % {"username": user.username}]}
        )
    if account_locked(user.username):
        raise ValidationError(
            {
                "user": [
                    _(
                        "%(username)s is locked after repeated failed sign-ins; no key is "
                        "issued until the lock ends."
                    )
                    % {"username": user.username}
                ]
            }
        )
    if mfa_required() and confirmed_device(user) is None:
        raise ValidationError(
            {
                "user": [
                    _(
                        "The study requires two-factor authentication: %(username)s must "
                        "enrol an authenticator before an API key can be issued."
                    )
                    % {"username": user.username}
                ]
            }
        )
    with change_context(performed_by=performed_by):
        ApiKey.objects.filter(user=user).delete()
        api_key, key = ApiKey.objects.create(user=user, expiry=settings.API_KEY_TTL)
    return IssuedApiKey(api_key=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, performed_by: User, reason: str = "") -> None:
    """Revoke one API key: by its owner or an administrator; audited as a delete."""
    enforce(may_revoke_api_key(performed_by, api_key))
    with change_context(performed_by=performed_by, reason=reason or _("API key revoked")):
        ApiKey.objects.filter(pk=api_key.pk).delete()


@transaction.atomic
def api_keys_revoke_all(*, user: User, performed_by: User | None, reason: str) -> int:
    """Revoke every API key of ``user``: when her password changes, her account is
    deactivated or locked after repeated failed sign-ins. Returns how many were revoked."""
    with change_context(performed_by=performed_by, reason=reason):
        revoked, _by_model = ApiKey.objects.filter(user=user).delete()
    return revoked


@transaction.atomic
def api_keys_remove_expired() -> int:
    """Delete the keys past their expiry (refused already), so that the audit trail and
    the access review show them revoked when they stopped working. Returns how many."""
    with change_context(performed_by=None, reason=_("API key expired")):
        removed, _by_model = ApiKey.objects.filter(expiry__lte=timezone.now()).delete()
    return removed


@transaction.atomic
def user_password_set(*, user: User, password: str, performed_by: User | None) -> None:
    """Give a user a new password (already validated by the form or command that asks for
    it); every API key of hers is revoked, as whoever knew the old password may hold one."""
    with change_context(performed_by=performed_by, reason=_("Password changed")):
        user.set_password(password)
        user.save(update_fields=["password"])
    api_keys_revoke_all(user=user, performed_by=performed_by, reason=_("Password changed"))


@transaction.atomic
def user_deactivated(*, user: User, performed_by: User | None) -> None:
    """What follows an account's deactivation, whoever deactivated it: her API keys are
    revoked (a deactivated user's key is refused in any case)."""
    if not user.is_active:
        api_keys_revoke_all(user=user, performed_by=performed_by, reason=_("Account deactivated"))


@transaction.atomic
def user_locked_out(*, username: str) -> int:
    """An account locked after repeated failed sign-ins loses its API keys: whoever is
    guessing its password must not keep or reach a key. A lockout of a network address
    alone (many accounts tried from it) leaves the accounts tried their keys. Returns how
    many were revoked."""
    user = User.objects.filter(username=username).first()
    if user is None or not account_locked(username):
        return 0
    return api_keys_revoke_all(
        user=user, performed_by=None, reason=_("Account locked after failed sign-ins")
    )


#: The longest comment and the longest "what to change" an access review keeps.
ACCESS_REVIEW_COMMENT_MAX = 4000
ACCESS_REVIEW_CHANGE_MAX = 500


def _access_review_errors(
    *, reviewed_on: dt.date, comment: str, accounts_to_change: Sequence[Mapping[str, str]]
) -> tuple[dict[str, list[str]], dict[str, User]]:
    errors: dict[str, list[str]] = {}
    if reviewed_on > timezone.localdate():
        errors["reviewed_on"] = [
            _("The review date %(date)s is in the future; give the day the review was done.")
            % {"date": reviewed_on.isoformat()}
        ]
    if not comment.strip():
        errors["comment"] = [_("Say what the review found, even when nothing is to change.")]
    elif len(comment) > ACCESS_REVIEW_COMMENT_MAX:
        errors["comment"] = [
            _("The comment is longer than %(max)s characters.") % {"max": ACCESS_REVIEW_COMMENT_MAX}
        ]
    usernames = [str(item.get("username", "")).strip() for item in accounts_to_change]
    found = {u.username: u for u in User.objects.filter(username__in=usernames)}
    problems: list[str] = []
    for username, item in zip(usernames, accounts_to_change, strict=True):
        change = str(item.get("change", "")).strip()
        if not username:
            problems.append(_("Each account to change needs its username."))
        elif username not in found:
            problems.append(_("There is no account named %(username)s.") % {"username": username})
        elif usernames.count(username) > 1:
            problems.append(
                _("The account %(username)s is named more than once; say all its changes once.")
                % {"username": username}
            )
        if username and not change:
            problems.append(
                _("Say what is to change for the account %(username)s.") % {"username": username}
            )
        elif len(change) > ACCESS_REVIEW_CHANGE_MAX:
            problems.append(
                _("What is to change for %(username)s is longer than %(max)s characters.")
                % {"username": username, "max": ACCESS_REVIEW_CHANGE_MAX}
            )
    if problems:
        errors["accounts_to_change"] = list(dict.fromkeys(problems))
    return errors, found


@transaction.atomic
def access_review_record(
    *,
    reviewed_on: dt.date,
    comment: str,
    accounts_to_change: Sequence[Mapping[str, str]],
    performed_by: User,
) -> AccessReview:
    """Record a periodic access review (ICH E6(R3) 4.3.8): the day it was done, what the
    administrator concluded, and each account to change with what is to change.

    Only administrators record one; the review and its accounts are audited. A review
    dated in the future, without a comment, or naming an unknown account (or one
    twice) is refused, naming the field.
    """
    enforce(may_record_access_review(performed_by))
    errors, found = _access_review_errors(
        reviewed_on=reviewed_on, comment=comment, accounts_to_change=accounts_to_change
    )
    if errors:
        raise ValidationError(errors)
    with change_context(performed_by=performed_by):
        review = AccessReview.objects.create(
            reviewed_on=reviewed_on, comment=comment.strip(), recorded_by=performed_by
        )
        AccessReviewChange.objects.bulk_create(
            AccessReviewChange(
                review=review,
                account=found[str(item["username"]).strip()],
                change=str(item["change"]).strip(),
            )
            for item in accounts_to_change
        )
    return review
