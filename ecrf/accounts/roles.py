"""The roles of the trial and what each may do (API contract: set-up commands)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Clinical research coordinator")
    INVESTIGATOR = "investigator", _("Investigator")
    MONITOR = "monitor", _("Monitor")
    DATA_MANAGER = "data_manager", _("Data manager")
    STATISTICIAN = "statistician", _("Statistician")
    ADMIN = "admin", _("Administrator")


#: Roles that work at, or see, only the sites they are members of.
SITE_BOUND_ROLES: frozenset[str] = frozenset({Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR})
#: Roles that see every site of the study.
ALL_SITES_ROLES: frozenset[str] = frozenset({Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN})
#: Roles that enter participant data at their sites.
DATA_ENTRY_ROLES: frozenset[str] = frozenset({Role.COORDINATOR})
#: Roles that may read the full history of a record.
HISTORY_ROLES: frozenset[str] = frozenset(Role)
#: Who may do each action on a participant of their sites, beside entering data.
UNBLINDING_ROLES: frozenset[str] = frozenset({Role.INVESTIGATOR})
WITHDRAWING_ROLES: frozenset[str] = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})
SIGNING_ROLES: frozenset[str] = frozenset({Role.INVESTIGATOR})
VERIFYING_ROLES: frozenset[str] = frozenset({Role.MONITOR})
LOCKING_ROLES: frozenset[str] = frozenset({Role.DATA_MANAGER})
QUERY_RAISING_ROLES: frozenset[str] = frozenset({Role.MONITOR, Role.DATA_MANAGER})
QUERY_ANSWERING_ROLES: frozenset[str] = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})
#: Who sees the randomization lists and their history (allocation concealment).
LIST_ROLES: frozenset[str] = frozenset({Role.STATISTICIAN, Role.ADMIN})
