from __future__ import annotations

from django.contrib import admin

from ecrf.audit.admin import AuditedAdminMixin

from .models import StaffNotification


@admin.register(StaffNotification)
class StaffNotificationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The outbox of staff e-mails: what was owed to whom, whether it went out, and why not."""

    list_display = ["subject", "kind", "recipient", "created_at", "sent_at", "attempts"]
    list_filter = ["kind", "sent_at"]

    def has_add_permission(self, request, *args):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
