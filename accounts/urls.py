from django.urls import path

from accounts import views

urlpatterns = [
    path("register/", views.RegisterApi.as_view(), name="register"),
    path("token/", views.TokenObtainApi.as_view(), name="token"),
    path("token/refresh/", views.TokenRefreshApi.as_view(), name="token-refresh"),
    path("logout/", views.LogoutApi.as_view(), name="logout"),
]
