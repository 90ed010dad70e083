from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "ecrf.quality"
    label = "quality"
    verbose_name = _("Locks, signatures and source data verification")
