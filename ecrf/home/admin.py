"""Who may enter the admin site: the policy decides (administrators)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from ecrf.accounts.policy import may_administer


def _may_enter_admin(request: HttpRequest) -> bool:
    return bool(may_administer(request.user))


admin.site.has_permission = _may_enter_admin  # type: ignore[method-assign]
