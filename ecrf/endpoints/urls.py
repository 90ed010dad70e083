from __future__ import annotations

from django.urls import path

from . import views

app_name = "endpoints"

urlpatterns = [
    path("<int:pk>/endpoints/<slug:record>/", views.endpoint_form, name="form"),
]
