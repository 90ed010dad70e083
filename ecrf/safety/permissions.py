"""Who may write safety data: the site staff who report adverse events.

Kept apart from :mod:`ecrf.accounts.permissions` so that admitting investigators here
changes nothing for the other forms, which only coordinators enter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from ecrf.accounts.roles import Role
from ecrf.accounts.selectors import user_sees_site

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User
    from ecrf.studies.models import Site

#: Roles that record and correct adverse events at their sites.
SAFETY_ENTRY_ROLES: frozenset[str] = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})


def can_record_adverse_events(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "role", None) in SAFETY_ENTRY_ROLES)


def can_confirm_adverse_events(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "role", None) == Role.INVESTIGATOR)


def ensure_can_record_adverse_events(user: User, site: Site) -> None:
    """Coordinators and investigators of her site record adverse events; others only read."""
    if not can_record_adverse_events(user):
        raise PermissionDenied(_("Your role may read adverse events but not record them."))
    if not user_sees_site(user, site):
        raise PermissionDenied(_("You do not work at this site."))


def ensure_can_confirm_adverse_events(user: User, site: Site) -> None:
    """Only an investigator of her site confirms the assessment of an adverse event."""
    if not can_confirm_adverse_events(user):
        raise PermissionDenied(_("Only an investigator may confirm an adverse event."))
    if not user_sees_site(user, site):
        raise PermissionDenied(_("You do not work at this site."))
