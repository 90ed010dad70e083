from __future__ import annotations

from django.urls import path

from . import query_views as views

app_name = "queries"

urlpatterns = [
    path("participants/<int:pk>/queries/", views.query_open_view, name="open"),
    path("queries/<int:query_pk>/<slug:step>/", views.query_step_view, name="step"),
]
