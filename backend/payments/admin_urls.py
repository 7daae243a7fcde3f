"""Admin money pages, mounted under /dashboard/admin/ (built by the admin payments work)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
