from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ecrf.accounts.policy import may_administer

from .models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Who took which data away, when, and with which checksum: read-only."""

    list_display = [
        "created_at",
        "owner",
        "kind",
        "format",
        "site",
        "subject_id",
        "status",
        "progress",
        "attempts",
        "finished_at",
        "expires_at",
    ]
    list_filter = ["status", "kind", "format", "site"]
    search_fields = ["owner__username", "subject_id", "checksum"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "site"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(may_administer(request.user))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(may_administer(request.user))

    def has_add_permission(self, request, *args):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
