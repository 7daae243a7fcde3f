"""/api/sync/: pull (changes since a cursor) and push (a batch of offline mutations)."""

from django.urls import path

from sync import api

urlpatterns = [
    path("pull", api.PullView.as_view(), name="sync-pull"),
    path("push", api.PushView.as_view(), name="sync-push"),
]
