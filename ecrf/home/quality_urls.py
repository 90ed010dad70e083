from __future__ import annotations

from django.urls import path

from . import quality_views as views

app_name = "quality"

urlpatterns = [
    path("<int:pk>/sign/", views.sign, name="sign"),
    path("<int:pk>/verify/", views.verify, name="verify"),
    path("<int:pk>/lock/", views.lock, name="lock"),
    path("<int:pk>/unlock/", views.unlock, name="unlock"),
    path("study/lock/", views.study_lock, name="study_lock"),
    path("study/unlock/", views.study_unlock, name="study_unlock"),
    path("verification/", views.verification_worklist, name="worklist"),
]
