from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from resee.metrics import metrics
from utils import exceptions
from utils.converters import IdConverter
from utils.views import HealthApi
from webapp.views import index

register_converter(IdConverter, "id")

urlpatterns = [
    path("", index, name="webapp"),
    path("api/auth/", include("accounts.urls")),
    path("api/content/", include("content.urls")),
    path("api/review/", include("review.urls")),
    path("api/analytics/", include("analytics.urls")),
    path("api/", include("decks.urls")),
    path("api/health/", HealthApi.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="prometheus-django-metrics"),
    # Note: unknown API routes answer JSON even with DEBUG on, where handler404 is not used.
    re_path(r"^api/", exceptions.not_found),
]

handler400 = exceptions.bad_request
handler403 = exceptions.permission_denied
handler404 = exceptions.not_found
handler500 = exceptions.server_error
