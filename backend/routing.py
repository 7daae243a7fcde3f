"""WebSocket routes of every app, collected in one list for backend.asgi."""

from django.urls import path

from backend.core.consumers import UpdatesConsumer

websocket_urlpatterns: list = [
    path("ws/updates/", UpdatesConsumer.as_asgi()),
]
