from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RandomizationConfig(AppConfig):
    name = "randomization"
    label = "randomization"
    verbose_name = _("Randomization")
