from django.apps import AppConfig


class SyncConfig(AppConfig):
    """The offline sync API (push mutations, pull changes); built by the offline PWA issue."""

    name = "sync"
