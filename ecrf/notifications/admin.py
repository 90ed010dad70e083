from __future__ import annotations

from django.contrib import admin

from ecrf.audit.admin import AuditedAdminMixin

from .models import StaffNotification


class OutboxAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """An outbox, read only: what was sent when, what is still pending, and why."""

    def has_add_permission(self, request, *args):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(StaffNotification)
class StaffNotificationAdmin(OutboxAdmin):
    """The outbox of staff e-mails: what was owed to whom."""

    list_display = ["subject", "kind", "recipient", "created_at", "sent_at", "attempts"]
    list_filter = ["kind", "sent_at"]
