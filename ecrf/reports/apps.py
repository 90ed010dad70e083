from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_summary(**kwargs: Any) -> None:
    from .safety_counts import safety_counts_install
    from .summary import summary_install

    summary_install()
    safety_counts_install()  # counts the events by the arms the summary holds


class ReportsConfig(AppConfig):
    name = "ecrf.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        # After every migrate, so that the summary and the safety counts follow the
        # tables as they now are.
        post_migrate.connect(_install_summary, sender=self, dispatch_uid="ecrf_reports_summary")
