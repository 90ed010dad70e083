"""What a role may do, checked by services before they write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from .roles import DATA_ENTRY_ROLES, HISTORY_ROLES, LIST_ROLES
from .selectors import user_sees_site

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.studies.models import Site

    from .models import User


def can_enter_data(user: User | AnonymousUser) -> bool:
    return getattr(user, "role", None) in DATA_ENTRY_ROLES and user.is_authenticated


def can_view_history(user: User | AnonymousUser) -> bool:
    return getattr(user, "role", None) in HISTORY_ROLES and user.is_authenticated


def can_see_lists(user: User | AnonymousUser) -> bool:
    """Only statisticians and admins may see or export allocation lists."""
    return user.is_authenticated and getattr(user, "role", None) in LIST_ROLES


def has_role(user: User | AnonymousUser, roles: frozenset[str]) -> bool:
    return bool(user.is_authenticated and getattr(user, "role", None) in roles)


def ensure_role(user: User | AnonymousUser, roles: frozenset[str]) -> None:
    """Refuse (403) a role not among ``roles`` before any input is read or validated."""
    if not has_role(user, roles):
        raise PermissionDenied(_("Your role may not do this."))


def ensure_can_enter_data(user: User, site: Site) -> None:
    """Only site staff who enter data (coordinators) write participant data, at their sites."""
    if not can_enter_data(user):
        raise PermissionDenied(_("Your role may read this data but not enter or change it."))
    if not user_sees_site(user, site):
        raise PermissionDenied(_("You do not work at this site."))
