from django.urls import path

from backend.marketplace import views

urlpatterns = [
    path("", views.landing, name="landing"),
]
