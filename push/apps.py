from django.apps import AppConfig


class PushConfig(AppConfig):
    """Web Push (VAPID, subscriptions, delivery, reminder jobs); built by the notifications issue."""

    name = "push"
