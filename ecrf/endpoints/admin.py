from __future__ import annotations

from django.contrib import admin

from ecrf.audit.admin import AuditedAdminMixin

from .models import EditCheckSetting


@admin.register(EditCheckSetting)
class EditCheckSettingAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The study's edit checks: on or off, hard or soft, threshold (changed with a reason)."""

    list_display = ["study", "code", "enabled", "severity", "threshold"]
