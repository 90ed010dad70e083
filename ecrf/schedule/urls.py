from __future__ import annotations

from django.urls import path

from . import views

app_name = "schedule"

urlpatterns = [
    path("<int:pk>/treatment/", views.treatment_page, name="treatment"),
    path("<int:pk>/treatment/embryo-transfer/", views.embryo_transfer_post, name="embryo_transfer"),
    path("<int:pk>/treatment/dose/", views.dose_post, name="dose"),
    path("<int:pk>/treatment/dose/<str:day>/<str:intake>/", views.dose_intake, name="dose_intake"),
    path("<int:pk>/treatment/dispensing/", views.dispensing_post, name="dispensing"),
    path("<int:pk>/treatment/return/", views.drug_return_post, name="drug_return"),
    path("<int:pk>/treatment/visit/", views.visit_post, name="visit"),
    path("<int:pk>/schedule/", views.schedule_print, name="print"),
    path("<int:pk>/schedule.ics", views.schedule_ics, name="ics"),
]
