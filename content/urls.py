from django.urls import path

from content import views

urlpatterns = [
    path("", views.ContentListCreateApi.as_view(), name="content-list"),
    path("<id:pk>/", views.ContentDetailApi.as_view(), name="content-detail"),
    path("categories/", views.CategoryListCreateApi.as_view(), name="category-list"),
    path("categories/<id:pk>/", views.CategoryDetailApi.as_view(), name="category-detail"),
]
