from __future__ import annotations

from django.contrib import admin

from ecrf.audit.admin import AuditedAdminMixin

from .models import Site, Study


@admin.register(Study)
class StudyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "registry_id", "target_enrollment", "mfa_required"]


@admin.register(Site)
class SiteAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name_en", "name_ja", "time_zone"]
    readonly_fields = ["last_subject_number"]
