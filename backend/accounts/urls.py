from django.urls import path

from backend.accounts import views

urlpatterns = [
    path("register/", views.register_choice, name="register"),
    path("register/<str:role>/", views.register_start, name="register-start"),
    path("register/<str:role>/resend-code/", views.register_resend_code, name="register-resend-code"),
    path("register/<str:role>/validate/<str:step>/", views.register_validate, name="register-validate"),
    path("register/<str:role>/<str:step>/", views.register_step, name="register-step"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("password-reset/done/", views.password_reset_done, name="password_reset_complete"),
    path("account/2fa/", views.two_factor, name="two-factor"),
    path("profile/", views.profile, name="profile"),
]
