"""Site scoping, in one place, and the reads of the access review.

Every read of site-bound data goes through :func:`scope_to_user_sites`, so that no
page, API endpoint, export or admin view can reach a site the user does not belong
to. Objects outside the scope simply do not exist for her (views answer 404).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.apps import apps
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, models
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.audit.selectors import actor_sql
from ecrf.common.compiled import CompiledRead
from ecrf.studies.models import Site

from .lockout import account_failure_limit, account_failures_sql
from .models import AccessReview, AccessReviewChange, ApiKey, SiteMembership, User
from .roles import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

Q = TypeVar("Q", bound=models.QuerySet)
M = TypeVar("M", bound=models.Model)


def sites_visible_to(user: User | AnonymousUser) -> models.QuerySet[Site]:
    """The sites a user sees: all of them for sponsor-wide roles, her memberships otherwise."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
        return Site.objects.none()
    if user.sees_all_sites:  # type: ignore[union-attr]
        return Site.objects.all()
    return Site.objects.filter(memberships__user=user)


def scope_to_user_sites(queryset: Q, user: User | AnonymousUser, *, site_path: str = "site") -> Q:
    """Restrict ``queryset`` to rows whose ``site_path`` is a site the user sees."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
        return queryset.none()
    if user.sees_all_sites:  # type: ignore[union-attr]
        return queryset
    return queryset.filter(**{f"{site_path}__memberships__user": user})


def user_sees_site(user: User | AnonymousUser, site: Site) -> bool:
    """Whether the user sees ``site``: the question every policy asks of a participant's
    site, so a single indexed lookup of her membership rather than a compiled query."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
        return False
    if user.sees_all_sites:  # type: ignore[union-attr]
        return True
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIP_SQL, [user.pk, site.pk])
        return cursor.fetchone() is not None


_MEMBERSHIP_SQL = (
    f"SELECT 1 FROM {SiteMembership._meta.db_table} WHERE user_id = %s AND site_id = %s"  # noqa: S608
)


class ScopedRead(Generic[M]):
    """A read of what a user sees, compiled once (:class:`~ecrf.common.compiled.CompiledRead`)
    for the pages every user reloads all day.

    ``build(user, *values)`` makes the queryset, scoped as every read is
    (:func:`scope_to_user_sites`, :func:`sites_visible_to`). It is compiled twice, with
    stand-in users: one of a role that sees every site, and one that sees her own sites,
    whose id each call replaces with the reader's.
    """

    _MEMBER = -1_000_003

    def __init__(self, build: Callable[..., models.QuerySet[M, Any]], *probes: Any) -> None:
        self._every = CompiledRead(
            lambda *values: build(User(pk=self._MEMBER, role=Role.ADMIN), *values), *probes
        )
        self._member = CompiledRead(
            lambda user_id, *values: build(User(pk=user_id, role=Role.MONITOR), *values),
            self._MEMBER,
            *probes,
        )

    def _read(self, user: User | AnonymousUser, values: tuple[Any, ...]) -> Any:
        """The read for ``user`` and the values to send it, or None for no user."""
        if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
            return None
        if user.sees_all_sites:  # type: ignore[union-attr]
            return self._every, values
        return self._member, (user.pk, *values)

    def all(self, user: User | AnonymousUser, *values: Any) -> list[M]:
        """The objects ``user`` sees of what the queryset answers with ``values``."""
        found = self._read(user, values)
        return found[0].all(*found[1]) if found else []

    def rows(self, user: User | AnonymousUser, *values: Any) -> list[tuple[Any, ...]]:
        """The rows ``user`` sees of what a queryset of values answers with ``values``."""
        found = self._read(user, values)
        return found[0].rows(*found[1]) if found else []


_VISIBLE_SITES: ScopedRead[Site] = ScopedRead(lambda user: sites_visible_to(user).order_by("code"))


def visible_sites(user: User | AnonymousUser) -> list[Site]:
    """The sites :func:`sites_visible_to` answers, in code order, read in one compiled
    statement."""
    return _VISIBLE_SITES.all(user)


def unexpired() -> models.Q:
    """API keys not past their expiry (a key without one does not expire)."""
    return models.Q(expiry__isnull=True) | models.Q(expiry__gt=timezone.now())


# -- access review ----------------------------------------------------------------------


@dataclass
class Grant:
    """One permission an account held: what it was, when and by whom it was granted,
    and when and by whom it was revoked (``None`` while it is still held, or where the
    audit trail does not reach back to the grant)."""

    kind: str
    what: str
    granted_at: dt.datetime | None = None
    granted_by: str | None = None
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None


@dataclass(frozen=True)
class AccountAccess:
    """What an account may reach today, and how it came to: one row of the access review."""

    username: str
    printed_name: str
    role: str
    role_label: str
    sites: list[Site]
    active: bool
    last_login: dt.datetime | None
    mfa_enrolled: bool
    api_keys: list[dt.datetime]
    locked_out: bool
    grants: list[Grant] = field(default_factory=list)


#: The account flags whose grants and revocations the access review follows.
_FLAGS = ("is_active", "is_staff", "is_superuser")


def _role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


def _flag_label(flag: str) -> str:
    return {
        "is_active": _("Active account (may sign in)"),
        "is_staff": _("Staff (administration site)"),
        "is_superuser": _("Superuser (every permission)"),
    }[flag]


def _site_label(site: Site | None, site_id: Any) -> str:
    if site is None:
        return _("Site %(id)s") % {"id": site_id}
    return _("Site %(code)s (%(name)s)") % {"code": site.code, "name": site.name}


class _Ledger:
    """Grants of one account, opened and closed as its audit events are replayed."""

    def __init__(self) -> None:
        self.grants: list[Grant] = []
        self.open: dict[Any, Grant] = {}

    def grant(self, key: Any, kind: str, what: str, at: Any, by: str | None) -> None:
        if key in self.open:
            return
        self.open[key] = Grant(kind, what, at, by)
        self.grants.append(self.open[key])

    def revoke(self, key: Any, at: Any, by: str | None, *, kind: str = "", what: str = "") -> None:
        held = self.open.pop(key, None)
        if held is None:
            # Granted before the audit trail reaches back: the revocation is still known.
            held = Grant(kind, what)
            self.grants.append(held)
        held.revoked_at, held.revoked_by = at, by


def _user_states(event: Any) -> dict[Any, tuple[str, str]]:
    """What an account event says the account held: its role and each flag set."""
    held: dict[Any, tuple[str, str]] = {}
    if event.role:
        held[("role", event.role)] = (
            "role",
            _("Role: %(role)s") % {"role": _role_label(event.role)},
        )
    for flag in _FLAGS:
        if getattr(event, flag):
            held[flag] = (flag.removeprefix("is_"), _flag_label(flag))
    return held


def _replay_accounts(ledgers: dict[int, _Ledger]) -> None:
    """Role and flag grants from the accounts' own audit events (one query)."""
    user_event = apps.get_model("accounts", "UserEvent")
    previous: dict[int, dict[Any, tuple[str, str]]] = {}
    events = (
        user_event.objects.annotate(actor=actor_sql("pgh_context"))
        .only("pgh_obj_id", "pgh_label", "pgh_created_at", "pgh_context", "role", *_FLAGS)
        .order_by("pgh_obj_id", "pgh_created_at", "pgh_id")
    )
    for event in events:
        user_id = event.pgh_obj_id
        ledger = ledgers.setdefault(user_id, _Ledger())
        before = previous.get(user_id, {})
        now = {} if event.pgh_label == "delete" else _user_states(event)
        for key in before.keys() - now.keys():
            ledger.revoke(key, event.pgh_created_at, event.actor)
        for key in now.keys() - before.keys():
            first_known = user_id not in previous and event.pgh_label != "create"
            at, by = (None, None) if first_known else (event.pgh_created_at, event.actor)
            ledger.grant(key, *now[key], at, by)
        previous[user_id] = now


def _replay_memberships(ledgers: dict[int, _Ledger]) -> None:
    """Site grants from the site memberships' audit events (one query)."""
    membership_event = apps.get_model("accounts", "SiteMembershipEvent")
    events = (
        membership_event.objects.annotate(actor=actor_sql("pgh_context"))
        .select_related("site")
        .only(
            "pgh_obj_id",
            "pgh_label",
            "pgh_created_at",
            "pgh_context",
            "user_id",
            "site",
        )
        .order_by("pgh_created_at", "pgh_id")
    )
    held_by: dict[int, tuple[int, Any]] = {}
    for event in events:
        key = ("site", event.pgh_obj_id)
        what = _site_label(event.site, event.site_id)
        ledger = ledgers.setdefault(event.user_id, _Ledger())
        if event.pgh_label == "create":
            ledger.grant(key, "site", what, event.pgh_created_at, event.actor)
        elif event.pgh_label == "delete":
            ledger.revoke(key, event.pgh_created_at, event.actor, kind="site", what=what)
        elif held_by.get(event.pgh_obj_id) != (event.user_id, event.site_id):
            old_user, _old_site = held_by.get(event.pgh_obj_id, (event.user_id, None))
            ledgers.setdefault(old_user, _Ledger()).revoke(
                key, event.pgh_created_at, event.actor, kind="site", what=what
            )
            ledger.grant(key, "site", what, event.pgh_created_at, event.actor)
        held_by[event.pgh_obj_id] = (event.user_id, event.site_id)


def _replay_api_keys(ledgers: dict[int, _Ledger]) -> None:
    """API key issue and revocation from the keys' audit events (one query); a key is
    known by its owner and creation time, never by the key itself."""
    api_key_event = apps.get_model("accounts", "ApiKeyEvent")
    events = (
        api_key_event.objects.annotate(actor=actor_sql("pgh_context"))
        .only("pgh_label", "pgh_created_at", "pgh_context", "user_id", "created")
        .order_by("pgh_created_at", "pgh_id")
    )
    for event in events:
        key = ("api_key", event.created)
        ledger = ledgers.setdefault(event.user_id, _Ledger())
        if event.pgh_label == "create":
            ledger.grant(key, "api_key", _("API key"), event.pgh_created_at, event.actor)
        elif event.pgh_label == "delete":
            ledger.revoke(key, event.pgh_created_at, event.actor, kind="api_key", what=_("API key"))


def _current(ledger: _Ledger, user: User, memberships: Iterable[SiteMembership]) -> None:
    """Permissions held today that no audit event granted (made before the trail began):
    listed all the same, with the time of grant unknown (an API key's is its creation)."""
    held: dict[Any, tuple[str, str]] = _user_states(user)
    for membership in memberships:
        held[("site", membership.pk)] = ("site", _site_label(membership.site, membership.site_id))
    for key, (kind, what) in held.items():
        if key not in ledger.open:
            ledger.grant(key, kind, what, None, None)
    for created in user.api_keys_created:  # type: ignore[attr-defined]
        if ("api_key", created) not in ledger.open:
            ledger.grant(("api_key", created), "api_key", _("API key"), created, None)


#: The order of a grant's kind among grants made at the same moment.
_KIND_ORDER = ("active", "role", "staff", "superuser", "site", "api_key")
_LONG_AGO = dt.datetime.min.replace(tzinfo=dt.UTC)


def _grant_order(grant: Grant) -> tuple[dt.datetime, int]:
    """By when granted (a grant older than the audit trail: when revoked; still held:
    first), then by kind; grants alike keep the order of their events."""
    moment = grant.granted_at or grant.revoked_at or _LONG_AGO
    kind = _KIND_ORDER.index(grant.kind) if grant.kind in _KIND_ORDER else len(_KIND_ORDER)
    return moment, kind


def access_review_accounts() -> list[AccountAccess]:
    """Every account with what it may reach today (role, sites, API keys, second factor,
    lock-out) and the history of each permission, granted and revoked, as the audit
    trail records it (ICH E6(R3) 4.3.8).

    A fixed number of queries whatever the number of accounts: the accounts with their
    key, their memberships, and one query per audited kind of grant.
    """
    users = list(
        User.objects.annotate(
            mfa_enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            failed_sign_ins=account_failures_sql("username"),
            api_keys_created=ArraySubquery(
                ApiKey.objects.filter(unexpired(), user=OuterRef("pk"))
                .order_by("created")
                .values("created")
            ),
        )
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=SiteMembership.objects.select_related("site").order_by("site__code"),
            )
        )
        .order_by("username")
    )
    ledgers: dict[int, _Ledger] = defaultdict(_Ledger)
    _replay_accounts(ledgers)
    _replay_memberships(ledgers)
    _replay_api_keys(ledgers)
    accounts = []
    for user in users:
        ledger = ledgers[user.pk]
        memberships = list(user.memberships.all())
        sites = [m.site for m in memberships]
        _current(ledger, user, memberships)
        grants = sorted(ledger.grants, key=_grant_order)
        accounts.append(
            AccountAccess(
                username=user.username,
                printed_name=user.printed_name,
                role=user.role,
                role_label=_role_label(user.role) if user.role else "",
                sites=sites,
                active=user.is_active,
                last_login=user.last_login,
                mfa_enrolled=user.mfa_enrolled,  # type: ignore[attr-defined]
                api_keys=list(user.api_keys_created),  # type: ignore[attr-defined]
                locked_out=user.failed_sign_ins >= account_failure_limit(),  # type: ignore[attr-defined]
                grants=grants,
            )
        )
    return accounts


def access_reviews(*, limit: int = 50) -> list[AccessReview]:
    """The latest recorded access reviews, latest first, each with its accounts to change
    (two queries)."""
    return list(
        AccessReview.objects.select_related("recorded_by")
        .prefetch_related(
            Prefetch(
                "changes",
                queryset=AccessReviewChange.objects.select_related("account").order_by(
                    "account__username"
                ),
            )
        )
        .order_by("-reviewed_on", "-recorded_at", "-pk")[:limit]
    )


def api_keys_valid(*, owner: User | None) -> models.QuerySet[ApiKey]:
    """The API keys still valid, of ``owner`` (``None``: everyone's, which administrators
    see), newest first, with their owner (one query)."""
    keys = ApiKey.objects.filter(unexpired()).select_related("user")
    if owner is not None:
        keys = keys.filter(user=owner)
    return keys.order_by("-created", "token_key")
