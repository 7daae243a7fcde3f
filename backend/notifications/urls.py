from django.urls import path

from backend.notifications import views

urlpatterns = [
    path("", views.notifications_page, name="notifications"),
    path("<int:notification_id>/read/", views.notification_read, name="notification-read"),
    path("read-all/", views.notifications_read_all, name="notifications-read-all"),
]
