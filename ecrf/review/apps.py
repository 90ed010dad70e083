from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewConfig(AppConfig):
    name = "ecrf.review"
    label = "review"
    verbose_name = _("Review")
