from __future__ import annotations

from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.export_index, name="index"),
    path("<uuid:pk>/status/", views.export_status, name="status"),
    path("<uuid:pk>/download/", views.export_download, name="download"),
]
