"""Receivers for what happens outside any service of ours: django-axes locking an
account after repeated failed sign-ins."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.dispatch import receiver

from .services import user_locked_out as account_locked_out


@receiver(user_locked_out, dispatch_uid="accounts.revoke_api_keys_on_lockout")
def revoke_api_keys_on_lockout(sender: Any, username: str | None = None, **kwargs: Any) -> None:
    if username:
        account_locked_out(username=username)
