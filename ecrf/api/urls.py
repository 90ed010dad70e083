from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from ecrf.exports.api import ExportViewSet
from ecrf.reports.api import EfficacyReportView

from . import views
from .access import AccessReviewAccountsView, AccessReviewsView
from .audit import AuditEventsView, AuditReviewsView
from .forms import FormCatalogueView
from .keys import ApiKeysView
from .queries import QueryViewSet
from .review import FormRecordsView, FormVerificationView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("participants", views.ParticipantViewSet, basename="participant")
router.register("queries", QueryViewSet, basename="query")
router.register("exports", ExportViewSet, basename="export")

urlpatterns = [
    *router.urls,
    path("forms/", FormCatalogueView.as_view(), name="form-catalogue"),
    path(
        "participants/<int:pk>/forms/<slug:code>/",
        FormRecordsView.as_view(),
        name="participant-form",
    ),
    path(
        "participants/<int:pk>/forms/<slug:code>/verification/",
        FormVerificationView.as_view(),
        name="participant-form-verification",
    ),
    path("reports/efficacy/", EfficacyReportView.as_view(), name="reports-efficacy"),
    path("audit-events/", AuditEventsView.as_view(), name="audit-events"),
    path("audit-reviews/", AuditReviewsView.as_view(), name="audit-reviews"),
    path("access-review/", AccessReviewAccountsView.as_view(), name="access-review"),
    path("access-reviews/", AccessReviewsView.as_view(), name="access-reviews"),
    path("api-keys/", ApiKeysView.as_view(), name="api-keys"),
]
