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

from ecrf.accounts import policy
from ecrf.quality.selectors import study_lock

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User
    from ecrf.studies.models import Study


def arms_hidden_from(user: User | AnonymousUser, study: Study) -> bool:
    """In a blinded study the roles it names see no result split by arm."""
    return policy.arms_hidden_from(user, study)


@dataclass(frozen=True)
class EfficacyAccess:
    """Whether a user sees the efficacy results, and whether the database is locked yet."""

    allowed: bool
    database_locked: bool
    reason: str = ""


def efficacy_access(user: User | AnonymousUser, study: Study) -> EfficacyAccess:
    """:func:`ecrf.accounts.policy.may_view_efficacy`, with the database lock read here."""
    locked = study_lock(study) is not None
    decision = policy.may_view_efficacy(user, study, database_locked=locked)
    return EfficacyAccess(decision.allowed, locked, decision.reason)


def ensure_efficacy_access(user: User | AnonymousUser, study: Study) -> EfficacyAccess:
    access = efficacy_access(user, study)
    policy.enforce(policy.Decision(access.allowed, access.reason))
    return access


def can_see_sponsor_reports(user: User | AnonymousUser) -> bool:
    return bool(policy.may_view_sponsor_reports(user))


def ensure_sponsor_reports(user: User | AnonymousUser) -> None:
    policy.enforce(policy.may_view_sponsor_reports(user))


def can_see_site_reports(user: User | AnonymousUser) -> bool:
    return bool(policy.may_view_site_reports(user))
