from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabsConfig(AppConfig):
    name = "ecrf.labs"
    label = "labs"
    verbose_name = _("Safety labs and vital signs")
