from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_summary(**kwargs: Any) -> None:
    from .summary import summary_install

    summary_install()


class ReportsConfig(AppConfig):
    name = "ecrf.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        # After every migrate, so that the summary follows the tables as they now are.
        post_migrate.connect(_install_summary, sender=self, dispatch_uid="ecrf_reports_summary")
