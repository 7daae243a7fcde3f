"""WebSocket routes of every app, collected in one list for backend.asgi."""

from django.urls import path

from backend.core.consumers import UpdatesConsumer
from backend.rooms.consumers import RoomConsumer

websocket_urlpatterns: list = [
    path("ws/updates/", UpdatesConsumer.as_asgi()),
    path("ws/room/<str:code>/", RoomConsumer.as_asgi()),
]
