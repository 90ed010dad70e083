from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EndpointsConfig(AppConfig):
    name = "ecrf.endpoints"
    label = "endpoints"
    verbose_name = _("Endpoints and edit checks")
