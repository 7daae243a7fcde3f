from django.apps import AppConfig


class SyncConfig(AppConfig):
    """The offline sync API: push (a batch of queued mutations) and pull (changes since a cursor)."""

    name = "sync"

    def ready(self):
        from backend.core.events import listen
        from sync.changes import record_event

        listen(record_event)
