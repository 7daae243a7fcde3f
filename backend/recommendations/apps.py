from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "backend.recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from backend.core.events import listen
        from backend.recommendations.signals import record_from_event

        # One place for the interaction log: every service already publishes what a learner did.
        listen(record_from_event)
