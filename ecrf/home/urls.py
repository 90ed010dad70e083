from __future__ import annotations

from django.urls import path

from . import views

#: The namespace of the first release: pages and templates reverse ``core:home``.
app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
]
