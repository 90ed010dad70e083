from __future__ import annotations

from django.urls import path

from . import views

app_name = "randomization"

urlpatterns = [
    path("", views.list_index, name="index"),
    path("generate/", views.list_generate_view, name="generate"),
    path("import/", views.list_import_view, name="import"),
    path("<int:pk>/", views.list_detail, name="detail"),
    path("<int:pk>/activate/", views.list_activate_view, name="activate"),
    path("<int:pk>/extend/", views.list_extend_view, name="extend"),
    path("<int:pk>/export.csv", views.list_export, name="export"),
]
