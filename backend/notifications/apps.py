from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "backend.notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from backend.core.events import listen
        from backend.notifications.services import record_notifications

        # Inside the publishing transaction: a notification exists exactly when its change does.
        listen(record_notifications)
