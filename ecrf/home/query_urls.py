from __future__ import annotations

from django.urls import path

from . import query_views as views

app_name = "queries"

urlpatterns = [
    path("queries/", views.query_list_view, name="list"),
    path("queries/queries.csv", views.query_list_csv, name="csv"),
    path("participants/<int:pk>/queries/", views.query_open_view, name="open"),
    path("queries/<int:query_pk>/<slug:step>/", views.query_step_view, name="step"),
]
