from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScheduleConfig(AppConfig):
    name = "ecrf.schedule"
    label = "schedule"
    verbose_name = _("Treatment and visit schedule")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the schedule consistency checks)
