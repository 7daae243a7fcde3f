from django.urls import path

from backend.accounts import api

urlpatterns = [
    path("email-code/", api.EmailCodeView.as_view(), name="api-email-code"),
    path("email-verify/", api.EmailVerifyView.as_view(), name="api-email-verify"),
    path("register/", api.RegisterView.as_view(), name="api-register"),
    path("login/", api.LoginView.as_view(), name="api-login"),
    path("refresh/", api.RefreshView.as_view(), name="api-refresh"),
    path("logout/", api.LogoutView.as_view(), name="api-logout"),
    path("me/", api.MeView.as_view(), name="api-me"),
]
