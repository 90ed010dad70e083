from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.policy import (
    may_administer,
    may_export,
    may_manage_lists,
    may_raise_query,
    may_read_access_review,
    may_register,
    may_review_audit,
    may_use_api,
    may_view_verification_progress,
)
from ecrf.accounts.roles import Role


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The menu of the signed-in user's role, and whether her user menu offers the API
    (:func:`~ecrf.accounts.policy.may_use_api`)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("Home"), reverse("core:home"))]
    items.append((_("Participants"), reverse("participants:list")))
    if may_register(user):
        items.append((_("Register screening"), reverse("participants:create")))
    if may_raise_query(user):
        items.append((_("Queries"), reverse("queries:list")))
    if may_view_verification_progress(user):
        items.append((_("Source data verification"), reverse("quality:worklist")))
    if user.role:
        items.append((_("Reports"), reverse("reports:index")))
    if may_export(user):
        items.append((_("Exports"), reverse("exports:index")))
    if may_review_audit(user):
        items.append((_("Audit trail"), reverse("audit_review:index")))
    if may_manage_lists(user):
        items.append((_("Randomization lists"), reverse("randomization:index")))
    if may_read_access_review(user):
        items.append((_("Access review"), reverse("accounts:access_review")))
    if may_administer(user):
        items.append((_("Accounts and sites"), reverse("admin:index")))
    return {
        "nav_items": items,
        "role_label": Role(user.role).label if user.role else "",
        "offers_api": bool(may_use_api(user)),
    }
