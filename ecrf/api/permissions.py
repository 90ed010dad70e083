from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from ecrf.accounts.policy import Policy, may_enter_data
from ecrf.common.http import method_not_taken


class ReadAnyRoleWriteDataEntry(BasePermission):
    """Every role reads (its own sites); only data-entry roles write (others: 403).

    On routes naming one object the write check waits until the object was found
    among the caller's sites, so an object of another site answers 404, never 403.
    """

    message = "Your role may read this data but not enter or change it."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and getattr(user, "role", None)):
            return False
        lookup = getattr(view, "lookup_url_kwarg", None) or "pk"
        if view.kwargs.get(lookup) is not None or method_not_taken(request, view):
            return True
        return request.method in SAFE_METHODS or self.may_write(user)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return request.method in SAFE_METHODS or self.may_write(request.user)

    #: The policy that decides a write, asked for the role alone (the object's site
    #: was checked when it was found among the caller's sites).
    policy: Policy = staticmethod(may_enter_data)  # type: ignore[assignment]

    def may_write(self, user: Any) -> bool:
        return bool(type(self).policy(user))


def read_any_role_write(action: Policy) -> type[ReadAnyRoleWriteDataEntry]:
    """Every role reads (its own sites); only roles ``action`` allows write, checked
    before any input is read."""

    class ReadAnyRoleWriteAction(ReadAnyRoleWriteDataEntry):
        message = "Your role may not do this."
        policy = staticmethod(action)  # type: ignore[assignment]

    return ReadAnyRoleWriteAction


def read_and_write(
    read: Policy, write: Policy, *, read_refused: str, write_refused: str
) -> type[BasePermission]:
    """Roles ``read`` allows read, roles ``write`` allows write (others: 403), decided
    for the role alone before any input is read; a method the route does not take is
    answered 405 whoever asks."""

    class ReadAndWrite(BasePermission):
        message = read_refused

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            if not (user and user.is_authenticated):
                return False
            if request.method not in view.allowed_methods:
                return True
            if request.method in SAFE_METHODS:
                return bool(read(user))
            self.message = write_refused
            return bool(write(user))

    return ReadAndWrite
