from __future__ import annotations

from rest_framework.routers import DefaultRouter

from . import views
from .queries import QueryViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("participants", views.ParticipantViewSet, basename="participant")
router.register("queries", QueryViewSet, basename="query")

urlpatterns = router.urls
