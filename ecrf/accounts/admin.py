from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from ecrf.audit.admin import AuditedAdminMixin, ReasonForChangeForm

from .models import SiteMembership, User
from .policy import may_administer
from .roles import Role


class SiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return bool(may_administer(request.user))


class UserChangeWithReasonForm(ReasonForChangeForm, UserChangeForm):
    pass


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    """Account administration: roles, sites, deactivation (accounts are never deleted)."""

    form = UserChangeWithReasonForm
    add_form = UserCreationForm
    inlines = [SiteMembershipInline]
    list_display = ["username", "printed_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "printed_name", "email"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("printed_name", "email", "language")}),
        (_("Access"), {"fields": ("role", "is_active")}),
        (_("Reason for change"), {"fields": ("reason_for_change",)}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "role", "printed_name", "password1", "password2")}),
    )

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.is_staff = obj.role == Role.ADMIN
        super().save_model(request, obj, form, change)
