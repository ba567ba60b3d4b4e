from django.urls import path

from analytics import views

urlpatterns = [path("stats/", views.StatsApi.as_view(), name="analytics-stats")]
