"""Study users, their role, and the sites they belong to."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

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


@audited(fields=["user", "created"], refers_to_object=False, model_name="ApiKeyEvent")
class ApiKey(AuthToken):
    """An API key as the audit trail sees it: whose it is and when it was made.

    Only a SHA-512 digest of the key is stored (it is the row's primary key); the key is
    shown once, when issued. Issuing a key (a create event) and revoking it (a delete
    event) are audited with who did it; neither the digest nor the key's first
    characters (``token_key``, which tell her keys apart) ever are.
    """

    class Meta:
        proxy = True
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    @property
    def label(self) -> str:
        """How the owner recognises a key: its first characters."""
        return f"{self.token_key[:8]}…"

    def __str__(self) -> str:
        return f"{self.user} {self.label}"


@audited()
class AccessReview(models.Model):
    """A periodic review of who has access to the system (ICH E6(R3) 4.3.8): when it was
    done, what the reviewer concluded, and which accounts are to change."""

    reviewed_on = models.DateField(_("reviewed on"))
    comment = models.TextField(_("comment"), max_length=4000)
    recorded_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="access_reviews_recorded",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access review")
        verbose_name_plural = _("access reviews")
        ordering = ["-reviewed_on", "-recorded_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(comment=""), name="access_review_comment_given"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewed_on:%Y-%m-%d}"


@audited()
class AccessReviewChange(models.Model):
    """One account an access review found must change, and what is to change."""

    review = models.ForeignKey(
        AccessReview, on_delete=models.PROTECT, related_name="changes", verbose_name=_("review")
    )
    account = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="access_review_changes",
        verbose_name=_("account"),
    )
    change = models.CharField(_("what to change"), max_length=500)

    class Meta:
        verbose_name = _("account to change")
        verbose_name_plural = _("accounts to change")
        ordering = ["review", "account__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "account"], name="one_change_per_account_per_review"
            ),
            models.CheckConstraint(
                condition=~models.Q(change=""), name="access_review_change_given"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.change}"
