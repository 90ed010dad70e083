from __future__ import annotations

from django.contrib import admin

from ecrf.audit.admin import AuditedAdminMixin

from .models import Arm, Site, VisitDefinition

# The study's own admin lives with the service that changes its settings (ecrf.home).


@admin.register(Arm)
class ArmAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["study", "code", "daily_dose_mg", "capsule_mg", "intakes_per_day"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # An arm's code and weight are baked into the randomization lists.
        return ["study", "code", "allocation_weight"] if obj else []


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["study", "code", "target_offset", "window_start_offset", "window_end_offset"]


@admin.register(Site)
class SiteAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name_en", "name_ja", "time_zone"]
    readonly_fields = ["last_subject_number"]
