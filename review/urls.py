from django.urls import path

from review import views

urlpatterns = [
    path("today/", views.TodayApi.as_view(), name="review-today"),
    path("complete/", views.ReviewCompleteApi.as_view(), name="review-complete"),
    path("undo/", views.ReviewUndoApi.as_view(), name="review-undo"),
    path("schedules/", views.ScheduleListApi.as_view(), name="schedule-list"),
    path("schedules/<id:pk>/", views.ScheduleDetailApi.as_view(), name="schedule-detail"),
    path("leeches/", views.LeechListApi.as_view(), name="leech-list"),
    path("history/", views.HistoryListApi.as_view(), name="history-list"),
]
