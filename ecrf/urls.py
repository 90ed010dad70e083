from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ecrf.home.form_views import form_read
from ecrf.home.screening_views import participant_list
from ecrf.home.views import healthz, participant_detail
from ecrf.participants.urls import urlpatterns as participant_urlpatterns
from randomization.views import participant_randomize_view

admin.site.site_header = "Tacrolimus eCRF"
admin.site.site_title = "Tacrolimus eCRF"

#: The ``participants`` namespace: the pages of her own forms, the screening log and her
#: page (which gather what the layers above hold over her data) and her randomization.
participant_pages = (
    [
        path("", participant_list, name="list"),
        *participant_urlpatterns,
        path("<int:pk>/", participant_detail, name="detail"),
        path("<int:pk>/forms/<slug:code>/", form_read, name="form"),
        path("<int:pk>/randomize/", participant_randomize_view, name="randomize"),
    ],
    "participants",
)

urlpatterns = [
    path("", include("ecrf.home.urls")),
    path("accounts/", include("ecrf.accounts.urls")),
    path("participants/", include(participant_pages)),
    path("participants/", include("ecrf.schedule.urls")),
    path("participants/", include("ecrf.safety.urls")),
    path("participants/", include("ecrf.endpoints.urls")),
    path("participants/", include("ecrf.home.quality_urls")),
    path("participants/", include("ecrf.labs.urls")),
    path("", include("ecrf.home.query_urls")),
    path("randomization/", include("randomization.urls")),
    path("exports/", include("ecrf.exports.urls")),
    path("audit/", include("ecrf.home.audit_urls")),
    path("reports/", include("ecrf.reports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("ecrf.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
]

handler400 = "ecrf.common.errors.bad_request"
handler403 = "ecrf.common.errors.permission_denied"
handler404 = "ecrf.common.errors.page_not_found"
handler500 = "ecrf.common.errors.server_error"
