from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from ecrf.accounts.permissions import can_enter_data


class ReadAnyRoleWriteDataEntry(BasePermission):
    """Every role reads (its own sites); only data-entry roles write (others: 403)."""

    message = "Your role may read this data but not enter or change it."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and getattr(user, "role", "")):
            return False
        return request.method in SAFE_METHODS or can_enter_data(user)
