from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"

    def ready(self):
        from backend.accounts import signals  # noqa: F401  (audit of login events)
