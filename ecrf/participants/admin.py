from __future__ import annotations

from django.contrib import admin

from ecrf.accounts.selectors import scope_to_user_sites
from ecrf.audit.admin import AuditedAdminMixin

from .models import Participant


@admin.register(Participant)
class ParticipantAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Read-only here: participant data is entered and corrected by site staff, with a reason."""

    list_display = ["subject_id", "site", "status", "screening_date"]
    list_filter = ["site", "status"]
    search_fields = ["subject_id"]
    fields = ["subject_id", "site", "status", "screening_date", "birth_date", "registered_by"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return scope_to_user_sites(super().get_queryset(request), request.user)

    def has_add_permission(self, request, *args):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
