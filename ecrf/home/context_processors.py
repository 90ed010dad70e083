from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.roles import Role
from ecrf.exports.selectors import can_export


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The menu of the signed-in user's role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("Home"), reverse("core:home"))]
    items.append((_("Participants"), reverse("participants:list")))
    if user.role == Role.COORDINATOR:
        items.append((_("Register screening"), reverse("participants:create")))
    if user.role:
        items.append((_("Reports"), reverse("reports:index")))
    if can_export(user):
        items.append((_("Exports"), reverse("exports:index")))
    if user.role in (Role.STATISTICIAN, Role.ADMIN):
        items.append((_("Randomization lists"), reverse("randomization:index")))
    if user.role == Role.ADMIN:
        items.append((_("Accounts and sites"), reverse("admin:index")))
    items.append((_("API documentation"), reverse("api-docs")))
    return {"nav_items": items, "role_label": Role(user.role).label if user.role else ""}
