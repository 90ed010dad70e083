"""Study users, their role, and the sites they belong to."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from ecrf.audit.tracking import NEVER_AUDITED_FIELDS, audited

from .roles import ALL_SITES_ROLES, Role


@audited(exclude=list(NEVER_AUDITED_FIELDS))
class User(AbstractUser):
    """A person with one role in the study; the role and memberships decide what she sees."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    printed_name = models.CharField(
        _("printed name"),
        max_length=150,
        blank=True,
        help_text=_("The name shown with an electronic signature."),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="ja"
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]) | models.Q(role=""),
                name="user_role_known",
            ),
        ]

    @property
    def sees_all_sites(self) -> bool:
        return self.role in ALL_SITES_ROLES

    def __str__(self) -> str:
        return self.printed_name or self.get_username()


@audited()
class SiteMembership(models.Model):
    """A user's membership of a site: where a coordinator works, what a monitor sees."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="memberships")

    class Meta:
        verbose_name = _("site membership")
        verbose_name_plural = _("site memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="one_membership_per_user_site"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.site.code}"
