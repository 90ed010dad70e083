"""Who may enter the admin site: the policy decides (administrators); and the study's
settings, which the admin changes only through their service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse

from ecrf.accounts.models import User
from ecrf.accounts.policy import may_administer, may_change_study_settings
from ecrf.audit.admin import AuditedAdminMixin, ReasonForChangeForm
from ecrf.common import catalogue
from ecrf.common.http import request_user
from ecrf.studies.models import Study

from .services import study_settings_change, study_settings_changes


def _may_enter_admin(request: HttpRequest) -> bool:
    return bool(may_administer(request.user))


admin.site.has_permission = _may_enter_admin  # type: ignore[method-assign]


class StudySettingsForm(ReasonForChangeForm):
    """The study's settings in the admin: a change is asked of the settings' service
    before it is saved, so that a locked study refuses it (409) before anything else,
    and a missing reason is shown on the reason field."""

    performed_by: User | None = None

    def settings_changed(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        """The settings this submission changes, with their new values (a value its
        field refused is left to the field's own error)."""
        names = {setting.name for setting in catalogue.STUDY_SETTINGS}
        return {
            name: cleaned[name] for name in self.changed_data if name in names and name in cleaned
        }

    def clean(self) -> dict[str, Any]:
        cleaned = forms.ModelForm.clean(self) or {}
        if not self.instance.pk or self.performed_by is None:
            return cleaned
        try:
            study_settings_changes(
                study=self.instance,
                changes=self.settings_changed(cleaned),
                reason=cleaned.get("reason_for_change", ""),
                performed_by=self.performed_by,
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                target = "reason_for_change" if name == "reason" else name
                for message in errors:
                    self.add_error(target if target in self.fields else None, message)
        return cleaned


@admin.register(Study)
class StudyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "registry_id", "target_enrollment", "mfa_required"]
    form = StudySettingsForm

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)
        return type(base.__name__, (base,), {"performed_by": request_user(request)})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        study = self.get_object(request, object_id)
        if request.method == "GET" and study is not None:
            frozen = catalogue.settings_frozen_by_study_lock()
            decision = may_change_study_settings(request_user(request), study, frozen)
            if decision.conflict:
                self.message_user(request, decision.reason, level=messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        study_settings_change(
            study=obj,  # type: ignore[arg-type]
            changes=form.settings_changed(form.cleaned_data),
            reason=form.cleaned_data.get("reason_for_change", ""),
            performed_by=request_user(request),
        )
        obj.refresh_from_db()
