from django.urls import path

from accounts import views

urlpatterns = [
    path("register/", views.RegisterApi.as_view(), name="register"),
    path("token/", views.TokenObtainApi.as_view(), name="token"),
    path("token/refresh/", views.TokenRefreshApi.as_view(), name="token-refresh"),
    path("logout/", views.LogoutApi.as_view(), name="logout"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("password/change/", views.PasswordChangeApi.as_view(), name="password-change"),
    path("password/reset/", views.PasswordResetApi.as_view(), name="password-reset"),
    path("password/reset/confirm/", views.PasswordResetConfirmApi.as_view(), name="password-reset-confirm"),
]
