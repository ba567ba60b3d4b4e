"""The bench's URLconf: every real route first (resolved exactly as in production), then the
floor and limit views under /bench/."""

from django.urls import path

from bench import views
from resee.urls import handler400, handler403, handler404, handler500  # noqa: F401
from resee.urls import urlpatterns as real_urlpatterns


def _floor(endpoint: str):
    return type(f"Floor{endpoint.title()}Api", (views.FloorApi,), {"endpoint": endpoint}).as_view()


urlpatterns = [
    *real_urlpatterns,
    path("bench/floor/today/", _floor("today")),
    path("bench/floor/stats/", _floor("stats")),
    path("bench/floor/content/", _floor("content")),
    path("bench/limit/<str:endpoint>/", views.limit_view),
]
