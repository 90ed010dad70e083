from __future__ import annotations

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("consort/", views.consort, name="consort"),
    path("enrollment/", views.enrollment, name="enrollment"),
    path("efficacy/", views.efficacy, name="efficacy"),
    path("safety/", views.safety, name="safety"),
    path("quality/", views.quality, name="quality"),
]
