from django.urls import path

from push import api

urlpatterns = [
    path("subscriptions/", api.SubscriptionsView.as_view(), name="api-push-subscriptions"),
    path("test/", api.PushTestView.as_view(), name="api-push-test"),
    path("config/", api.PushConfigView.as_view(), name="api-push-config"),
]
