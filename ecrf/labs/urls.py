from __future__ import annotations

from django.urls import path

from . import views

app_name = "labs"

urlpatterns = [
    path("<int:pk>/labs/", views.lab_results, name="results"),
]
