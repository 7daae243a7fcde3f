from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"

    def ready(self):
        from backend.core import jobs_status

        jobs_status.connect()  # every process: web (enqueue-time, immediate mode) and consumers
