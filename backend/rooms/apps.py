from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "backend.rooms"
    label = "rooms"
