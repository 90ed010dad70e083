"""API request rates: past them the API answers 429 with ``Retry-After`` (JSON, as
every API error)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling


class _RateFromSettings:
    """Reads its rate from ``API_THROTTLE_RATES`` when asked, so that tests and
    deployments can change it without a restart of the class definitions."""

    scope: str

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope)


class AnonymousRateThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    """Requests without credentials, counted per address."""

    scope = "anon"


class UserRateThrottle(_RateFromSettings, throttling.UserRateThrottle):
    """Requests with a key or a session, counted per user."""

    scope = "user"
