"""Site scoping, in one place.

Every read of site-bound data goes through :func:`scope_to_user_sites`, so that no
page, API endpoint, export or admin view can reach a site the user does not belong
to. Objects outside the scope simply do not exist for her (views answer 404).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db import models

from ecrf.studies.models import Site

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import User

Q = TypeVar("Q", bound=models.QuerySet)


def sites_visible_to(user: User | AnonymousUser) -> models.QuerySet[Site]:
    """The sites a user sees: all of them for sponsor-wide roles, her memberships otherwise."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
        return Site.objects.none()
    if user.sees_all_sites:  # type: ignore[union-attr]
        return Site.objects.all()
    return Site.objects.filter(memberships__user=user)


def scope_to_user_sites(queryset: Q, user: User | AnonymousUser, *, site_path: str = "site") -> Q:
    """Restrict ``queryset`` to rows whose ``site_path`` is a site the user sees."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
        return queryset.none()
    if user.sees_all_sites:  # type: ignore[union-attr]
        return queryset
    return queryset.filter(**{f"{site_path}__memberships__user": user})


def user_sees_site(user: User | AnonymousUser, site: Site) -> bool:
    return sites_visible_to(user).filter(pk=site.pk).exists()
