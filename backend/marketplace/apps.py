from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "backend.marketplace"
    label = "marketplace"
