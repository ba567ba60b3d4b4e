from django.urls import path

from decks import views

urlpatterns = [
    path("imports/", views.ImportCreateApi.as_view(), name="import-list"),
    path("imports/<uuid:job_id>/", views.ImportDetailApi.as_view(), name="import-detail"),
    path("exports/", views.ExportApi.as_view(), name="export"),
]
