from __future__ import annotations

from django.contrib import admin

from ecrf.accounts.selectors import scope_to_user_sites
from ecrf.audit.admin import AuditedAdminMixin
from ecrf.notifications.admin import OutboxAdmin

from .models import AdverseEvent, SafetyNotification


@admin.register(AdverseEvent)
class AdverseEventAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Read-only here: site staff record and correct adverse events, with a reason."""

    list_display = ["participant", "term", "onset_date", "ctcae_grade", "serious", "confirmed_at"]
    list_filter = ["serious", "ctcae_grade", "participant__site"]
    search_fields = ["participant__subject_id", "term"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return scope_to_user_sites(
            super().get_queryset(request), request.user, site_path="participant__site"
        )

    def has_add_permission(self, request, *args):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SafetyNotification)
class SafetyNotificationAdmin(OutboxAdmin):
    """The outbox of SAE e-mails: what was sent when, and what is still pending, and why."""

    list_display = ["subject", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = ["sent_at"]
