from __future__ import annotations

from django.contrib import admin

from ecrf.audit.admin import AuditedAdminMixin

from .models import NormalRange


@admin.register(NormalRange)
class NormalRangeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Each site's laboratory normal ranges (study settings, changed with a reason)."""

    list_display = ["site", "analyte", "unit", "low", "high"]
    list_filter = ["site"]
