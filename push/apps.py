from django.apps import AppConfig


class PushConfig(AppConfig):
    """Web Push: VAPID keys, browser subscriptions and delivery to push services."""

    name = "push"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from push import checks  # noqa: F401  (registers the deploy checks)
