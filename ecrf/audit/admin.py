"""Admin integration of the reason-for-change rule."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from ecrf.audit.forms import reason_for_change_field
from ecrf.common.forms import FiniteDecimalField, FreeTextField
from ecrf.common.http import request_user

from .context import change_context
from .selectors import history_of
from .services import require_reason


class ReasonForChangeForm(forms.ModelForm):
    reason_for_change = reason_for_change_field()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk:
            changed = {
                name: (None, None) for name in self.changed_data if name != "reason_for_change"
            }
            try:
                require_reason(changed, cleaned.get("reason_for_change", ""), type(self.instance))
            except ValidationError as exc:
                self.add_error("reason_for_change", exc.message_dict["reason"])
        return cleaned


class AuditedAdminMixin:
    """Admin changes carry the admin's identity and reason into the audit trail.

    Nothing is deleted through the admin: study data and accounts are kept for good.
    Free text typed here is held to the same rule as on every page (no control
    characters, NFC).
    """

    form: Any = ReasonForChangeForm
    formfield_overrides: Any = {
        models.CharField: {"form_class": FreeTextField},
        models.TextField: {"form_class": FreeTextField},
        # codes, which their own form field already holds to letters, digits, - and _
        models.SlugField: {},
    }

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Each item of a list of texts (a comma-separated array) is free text too, and a
        decimal is a finite number (Django would compare a typed "sNaN" and fail)."""
        if isinstance(db_field, models.DecimalField):
            kwargs.setdefault("form_class", FiniteDecimalField)
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if isinstance(field, SimpleArrayField) and type(field.base_field) is forms.CharField:
            field.base_field = FreeTextField(max_length=field.base_field.max_length)
        return field

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin.site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.site.has_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.site.has_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return admin.site.has_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The record's audit trail (every field change, who, when, why), not Django's log."""
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404
        context = {
            **admin.site.each_context(request),
            "object": obj,
            "opts": obj._meta,
            "title": _("Audit trail of %(record)s") % {"record": obj},
            "entries": history_of(obj),
        }
        return render(request, "admin/audit_history.html", context)

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        reason = form.cleaned_data.get("reason_for_change", "") if change else ""
        with (
            transaction.atomic(),
            change_context(performed_by=request_user(request), reason=reason),
        ):
            super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        reason = form.cleaned_data.get("reason_for_change", "") if change else ""
        with (
            transaction.atomic(),
            change_context(performed_by=request_user(request), reason=reason),
        ):
            super().save_related(request, form, formsets, change)  # type: ignore[misc]
