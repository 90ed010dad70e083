"""The admin site's half of the authorization matrix.

Its routes are not listed by hand: every ModelAdmin registered on ``admin.site`` brings its
changelist, add, change, delete and history pages. Only the roles of ``ADMIN_SITE_ROLES``
enter the admin site (API contract: Django's admin is for the admin role only); anyone
else, anonymous or signed in, is sent to sign in. Inside, what the admin may do with each
model is what its ModelAdmin's permissions say (study data and accounts are never deleted
there), and a page she may not use answers 403 (or 404 where it does not admit the record).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ecrf.accounts.models import User
from ecrf.notifications.models import StaffNotificationKind
from ecrf.notifications.services import staff_notify
from ecrf.safety.services import adverse_event_record
from tests.factories import PASSWORD, api_key_for

#: Who enters the admin site at all (API contract).
ADMIN_SITE_ROLES = frozenset({"admin"})
#: The pages every registered ModelAdmin has; all but the first two name a record.
ACTIONS = ("changelist", "add", "change", "delete", "history")
#: The admin site's own pages, which belong to no ModelAdmin.
SITE_PAGES = frozenset(
    {
        "index",
        "login",
        "logout",
        "password_change",
        "password_change_done",
        "autocomplete",
        "jsi18n",
        "view_on_site",
        "app_list",
    }
)


@dataclass(frozen=True)
class AdminRoute:
    """One page of one registered ModelAdmin: one of ``ACTIONS``, or a page of its own."""

    model: type[models.Model]
    action: str
    #: the URL's name, for a page of the ModelAdmin's own (``get_urls``)
    own_name: str | None = None
    #: the URL's arguments, each the record's key
    arguments: int = 0

    @property
    def name(self) -> str:
        if self.own_name:
            return f"admin:{self.own_name}"
        opts = self.model._meta
        return f"admin:{opts.app_label}_{opts.model_name}_{self.action}"

    @property
    def id(self) -> str:
        return f"{self.model._meta.label}:{self.own_name or self.action}"

    @property
    def names_a_record(self) -> bool:
        return self.arguments > 0

    @property
    def model_admin(self) -> ModelAdmin[Any]:
        return admin.site._registry[self.model]

    def url(self, key: Any) -> str:
        return reverse(self.name, args=[key] * self.arguments)


def _own_pages(model: type[models.Model]) -> list[AdminRoute]:
    """The pages a ModelAdmin adds to the standard ones (a password form, a QR code)."""
    standard = {AdminRoute(model, action).name for action in ACTIONS}
    return [
        AdminRoute(model, "own", own_name=pattern.name, arguments=len(pattern.pattern.converters))
        for pattern in admin.site._registry[model].get_urls()
        if isinstance(pattern, URLPattern)
        and pattern.name
        and f"admin:{pattern.name}" not in standard
    ]


def admin_routes() -> list[AdminRoute]:
    """Every page of every ModelAdmin on the admin site, from its registry."""
    routes: list[AdminRoute] = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        routes += [
            AdminRoute(model, action, arguments=0 if action in ("changelist", "add") else 1)
            for action in ACTIONS
        ]
        routes += _own_pages(model)
    return routes


def _names(resolver: URLResolver, namespace: str = "") -> set[str]:
    found: set[str] = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found |= _names(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            found.add(f"{namespace}{entry.name}")
    return found


def admin_url_names() -> set[str]:
    """The names of every URL the admin site serves."""
    return {name for name in _names(get_resolver()) if name.startswith("admin:")}


def admin_records(users: dict[str, User]) -> None:
    """A record of every kind the admin site shows, made the way the application makes
    them, for the pages that name one (the study's own records come with the trial)."""
    for user in users.values():
        api_key_for(user)  # an API key, and the authenticator a key needs
    Group.objects.get_or_create(name="Auditors")
    # A wrong password: what the lockout counts.
    Client().post(
        reverse("accounts:login"),
        {"username": users["coordinator"].username, "password": f"not-{PASSWORD}"},
    )
    admin_user = users["admin"]
    admin_user.email = admin_user.email or "admin@example.org"
    admin_user.save(update_fields=["email"])
    staff_notify(
        kind=StaffNotificationKind.LIST_EXHAUSTED,
        recipients=[admin_user],
        message=lambda: ("Randomization list of S01 run out", "Extend the list."),
    )


def serious_adverse_event(participant: Any, coordinator: User) -> Any:
    """A serious adverse event: it leaves a notification in the safety outbox."""
    return adverse_event_record(
        participant=participant,
        term="Ovarian hyperstimulation syndrome",
        onset_date=dt.date(2026, 3, 3),
        ctcae_grade=3,
        serious=True,
        seriousness_criteria=["hospitalisation"],
        related=False,
        outcome="recovering",
        performed_by=coordinator,
    )


def record_of(model: type[models.Model]) -> models.Model | None:
    return model._default_manager.order_by("pk").first()


def admin_may(route: AdminRoute, user: User, method: str, record: models.Model | None) -> bool:
    """What the route's ModelAdmin lets ``user`` do there, by the rules Django's admin
    views apply (a change page shows a record to whoever may view it, saves it for
    whoever may change it)."""
    request: HttpRequest = RequestFactory().generic(method.upper(), "/admin/")
    request.user = user
    model_admin = route.model_admin
    if route.action == "own":
        return bool(model_admin.has_view_or_change_permission(request, record))
    if route.action == "add":
        return bool(model_admin.has_add_permission(request))
    if route.action == "delete":
        return bool(model_admin.has_delete_permission(request, record))
    if route.action == "change" and method == "post":
        return bool(model_admin.has_change_permission(request, record))
    return bool(model_admin.has_view_or_change_permission(request, record))


def outcome(response: Any) -> str:
    code = response.status_code
    if code >= 500:
        return f"error {code}"
    location = response.get("Location", "")
    signs_in = (reverse("admin:login"), reverse("accounts:login"))
    if code == 401 or (code == 302 and location.startswith(signs_in)):
        return "sign in"
    if code == 302 and location == reverse("admin:index"):
        return "hidden"  # the admin's "no such record" (a message, back to the index)
    if 300 <= code < 400:
        return f"redirect to {location}"
    return {403: "denied", 404: "hidden", 405: "method"}.get(code, "allowed")


def expected(
    route: AdminRoute, principal: str, user: User | None, method: str, record: Any
) -> set[str]:
    """The outcomes the matrix accepts; ``record`` is None where the route names a record
    that does not exist (a page of a model the admin may not see, no row of which is made)."""
    if principal not in ADMIN_SITE_ROLES or user is None:
        return {"sign in"}
    if route.names_a_record and record is None:
        return {"denied", "hidden"}
    if not admin_may(route, user, method, record):
        return {"denied", "hidden"} if route.action in ("history", "own") else {"denied"}
    if route.action == "own":
        # A page of the ModelAdmin's own answers as it sees fit: never with an error.
        return {"allowed", "denied", "hidden", "method"}
    return {"allowed"}
