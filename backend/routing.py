"""WebSocket routes of every app, collected in one list for backend.asgi."""

websocket_urlpatterns: list = []
