"""The roles of the trial (API contract: set-up commands); what each may do is in
:mod:`ecrf.accounts.policy`."""

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
