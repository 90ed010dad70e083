from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_chain(**kwargs: Any) -> None:
    from .chain import chain_install

    chain_install()


class AuditConfig(AppConfig):
    name = "ecrf.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from . import celery_hooks  # noqa: F401  (connects the Celery task signals)

        # After every migrate, so an event table added by any app is chained too.
        post_migrate.connect(_install_chain, sender=self, dispatch_uid="ecrf_audit_chain")
