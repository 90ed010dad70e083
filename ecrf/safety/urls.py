from __future__ import annotations

from django.urls import path

from . import views

app_name = "safety"

urlpatterns = [
    path(
        "adverse-events/awaiting-confirmation/",
        views.awaiting_confirmation_page,
        name="awaiting_confirmation",
    ),
    path("<int:pk>/safety/", views.adverse_events_page, name="adverse_events"),
    path("<int:pk>/safety/<int:ae_pk>/", views.adverse_event_page, name="adverse_event"),
    path(
        "<int:pk>/safety/<int:ae_pk>/confirm/",
        views.adverse_event_confirm_post,
        name="adverse_event_confirm",
    ),
]
