from __future__ import annotations

from django.urls import path

from . import audit_views as views

app_name = "audit_review"

urlpatterns = [
    path("", views.audit_review, name="index"),
    path("reviews/", views.audit_review_sign_off, name="sign_off"),
    path("checkpoints.json", views.audit_checkpoints, name="checkpoints"),
]
