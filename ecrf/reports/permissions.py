"""Who sees which report (API contract: the efficacy report; issue 6, Reports).

- Efficacy: statisticians and administrators always (before the database lock with a
  banner saying so); data managers once the study database is locked, or before it
  where the study's setting allows. The efficacy report is study-wide, so the roles
  bound to their sites (coordinators, investigators, monitors) never see it: a
  study-wide result would tell them about the other sites' participants.
- CONSORT flow and safety table: the sponsor's side (monitors, data managers,
  statisticians, administrators), each over the sites she sees.
- Enrollment and data quality: every role, over the sites she sees.
- In a blinded study the roles the study names never see results split by arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from ecrf.accounts.roles import Role
from ecrf.quality.selectors import study_lock

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User
    from ecrf.studies.models import Study

#: Roles that see efficacy results whenever they ask, before the database lock too.
EFFICACY_ALWAYS_ROLES: frozenset[str] = frozenset({Role.STATISTICIAN, Role.ADMIN})
#: Sponsor roles that see efficacy results after the lock or where the study allows.
EFFICACY_AFTER_LOCK_ROLES: frozenset[str] = frozenset({Role.DATA_MANAGER})
#: Roles that see the CONSORT flow and the safety table (over their sites).
SPONSOR_REPORT_ROLES: frozenset[str] = frozenset(
    {Role.MONITOR, Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN}
)
#: Roles that see enrollment and data quality (over their sites).
SITE_REPORT_ROLES: frozenset[str] = frozenset(Role)


def _role(user: User | AnonymousUser) -> str | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return getattr(user, "role", None) or None


def arms_hidden_from(user: User | AnonymousUser, study: Study) -> bool:
    """In a blinded study the roles it names see no result split by arm."""
    return study.blinded and _role(user) in study.blinded_roles


@dataclass(frozen=True)
class EfficacyAccess:
    """Whether a user sees the efficacy results, and whether the database is locked yet."""

    allowed: bool
    database_locked: bool
    reason: str = ""


def efficacy_access(user: User | AnonymousUser, study: Study) -> EfficacyAccess:
    """Statisticians and admins always; data managers after the lock or where allowed."""
    locked = study_lock(study) is not None
    role = _role(user)
    if arms_hidden_from(user, study):
        return EfficacyAccess(
            False, locked, _("The efficacy results are split by arm, which your role may not see.")
        )
    if role in EFFICACY_ALWAYS_ROLES:
        return EfficacyAccess(True, locked)
    if role in EFFICACY_AFTER_LOCK_ROLES:
        if locked or study.efficacy_visible_before_lock:
            return EfficacyAccess(True, locked)
        return EfficacyAccess(
            False,
            locked,
            _("The efficacy results are shown to data managers once the study database is locked."),
        )
    return EfficacyAccess(
        False,
        locked,
        _(
            "The efficacy results are study-wide; statisticians and the sponsor's data "
            "managers see them."
        ),
    )


def ensure_efficacy_access(user: User | AnonymousUser, study: Study) -> EfficacyAccess:
    access = efficacy_access(user, study)
    if not access.allowed:
        raise PermissionDenied(access.reason)
    return access


def can_see_sponsor_reports(user: User | AnonymousUser) -> bool:
    return _role(user) in SPONSOR_REPORT_ROLES


def ensure_sponsor_reports(user: User | AnonymousUser) -> None:
    if not can_see_sponsor_reports(user):
        raise PermissionDenied(
            _("The CONSORT flow and the safety table are for the sponsor's monitors and staff.")
        )


def can_see_site_reports(user: User | AnonymousUser) -> bool:
    return _role(user) in SITE_REPORT_ROLES
