from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "backend.rooms"
    label = "rooms"

    def ready(self):
        from backend.core.events import listen
        from backend.rooms.services import pass_on_call_enders

        # A block or a cancellation ends a call now, not when people hang up.
        listen(pass_on_call_enders)
