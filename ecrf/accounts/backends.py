"""Django's authentication by username and password; the signed-in user of each request
is read by a compiled statement (every signed-in request reads her account)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends

from ecrf.common.compiled import CompiledRead

from .models import User

_BY_ID: CompiledRead[User] = CompiledRead(lambda pk: User.objects.filter(pk=pk), -1)


class ModelBackend(backends.ModelBackend):
    """Django's :class:`~django.contrib.auth.backends.ModelBackend`."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = _BY_ID.get(int(user_id))
        except (User.DoesNotExist, TypeError, ValueError):
            return None
        return user if self.user_can_authenticate(user) else None
