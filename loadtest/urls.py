"""The app's URLs and, for the load test only, one bare view on the same stack."""

from __future__ import annotations

from django.urls import path

from ecrf.urls import handler400, handler403, handler404, handler500  # noqa: F401
from ecrf.urls import urlpatterns as app_urlpatterns

from .views import bare_insert

urlpatterns = [
    path("loadtest/bare-insert/", bare_insert, name="loadtest-bare-insert"),
    *app_urlpatterns,
]
