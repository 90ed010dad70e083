from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from ecrf.audit.admin import AuditedAdminMixin, ReasonForChangeForm
from ecrf.audit.context import change_context
from ecrf.common.http import request_user

from .models import SiteMembership, User
from .policy import may_administer
from .roles import Role
from .services import api_keys_revoke_all, user_deactivated


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
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and "is_active" in form.changed_data:
                user_deactivated(user=obj, performed_by=request_user(request))

    def user_change_password(self, request, id, form_url=""):  # type: ignore[no-untyped-def]
        """Django's own password page for an administrator; a password set there revokes
        the user's API keys, as every password change does."""
        performed_by = request_user(request)
        reason = str(_("Password changed"))
        with transaction.atomic(), change_context(performed_by=performed_by, reason=reason):
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, unquote(id))
                if user is not None:
                    api_keys_revoke_all(user=user, performed_by=performed_by, reason=reason)
        return response


# Keys are issued only by the study's own service (the second factor checked, audited),
# and listed and revoked on the API keys page; knox's admin would bypass both.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)
