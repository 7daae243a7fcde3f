"""Web Push REST API: the browser's subscription in and out, the VAPID key, a test message."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from backend.core.access import Rule
from push import services
from push.delivery import push_to_user
from push.models import PushSubscription


class KeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class SubscriptionInSerializer(serializers.Serializer):
    """The browser's PushSubscription.toJSON(); expirationTime is accepted and ignored."""

    endpoint = serializers.CharField(max_length=1000)
    keys = KeysSerializer()
    expirationTime = serializers.IntegerField(required=False, allow_null=True)  # noqa: N815


class SubscriptionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)


class EndpointSerializer(serializers.Serializer):
    endpoint = serializers.CharField(max_length=1000)


class SubscriptionsView(APIView):
    access_rule = Rule.AUTHENTICATED

    @extend_schema(request=SubscriptionInSerializer, responses={201: SubscriptionOutSerializer})
    def post(self, request):
        incoming = SubscriptionInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        subscription, created = services.subscription_save(
            user=request.user,
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(
            SubscriptionOutSerializer(subscription).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=EndpointSerializer, responses={204: None})
    def delete(self, request):
        incoming = EndpointSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.subscription_delete(user=request.user, endpoint=incoming.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushTestThrottle(UserRateThrottle):
    scope = "push_test"
    rate = "6/min"


class TestResultSerializer(serializers.Serializer):
    devices = serializers.IntegerField()
    reached = serializers.IntegerField()


class PushTestView(APIView):
    """Send "This is a test notification" to the caller's devices; how many push services took it."""

    access_rule = Rule.AUTHENTICATED
    throttle_classes = [PushTestThrottle]

    @extend_schema(request=None, responses=TestResultSerializer)
    def post(self, request):
        devices = PushSubscription.objects.filter(user=request.user).count()
        reached = push_to_user(
            request.user.pk,
            payload={
                "title": "PeerLearn",
                "body": "This is a test notification",
                "url": "/dashboard/",
                "category": "test",
            },
            ttl_seconds=300,
            urgency="normal",
            topic=f"push-test-{request.user.pk}",
        )
        return Response({"devices": devices, "reached": reached})


class ConfigSerializer(serializers.Serializer):
    public_key = serializers.CharField()


class PushConfigView(APIView):
    access_rule = Rule.AUTHENTICATED

    @extend_schema(responses=ConfigSerializer)
    def get(self, request):
        return Response({"public_key": settings.VAPID_PUBLIC_KEY})
