"""The participant pages of this layer; ``ecrf.urls`` adds the pages of the layers above
(the screening log, her page, her randomization) under the same ``participants`` namespace."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("new/", views.participant_create, name="create"),
    path("<int:pk>/edit/", views.participant_edit, name="edit"),
    path("<int:pk>/history/", views.participant_history, name="history"),
    path("<int:pk>/eligibility/", views.participant_eligibility, name="eligibility"),
    path(
        "<int:pk>/eligibility/check/",
        views.participant_eligibility_check,
        name="eligibility_check",
    ),
    path("<int:pk>/consent/", views.participant_consent, name="consent"),
    path("<int:pk>/unblind/", views.participant_unblind_view, name="unblind"),
    path("<int:pk>/withdraw/", views.participant_withdraw_view, name="withdraw"),
]
