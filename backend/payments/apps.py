from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "backend.payments"
    label = "payments"

    def ready(self):
        from backend.payments import checks  # noqa: F401  (registers the deploy check)
