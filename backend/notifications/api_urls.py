from django.urls import path

from backend.notifications import api

urlpatterns = [
    path("", api.NotificationListView.as_view(), name="api-notifications"),
    path("read/", api.MarkReadView.as_view(), name="api-notifications-read"),
    path("read-all/", api.MarkAllReadView.as_view(), name="api-notifications-read-all"),
    path("preferences/", api.PreferencesView.as_view(), name="api-notifications-preferences"),
]
