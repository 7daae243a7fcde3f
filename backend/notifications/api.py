"""The notifications API: the bell's list and unread count, marking read, and channel choices."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.access import Rule
from backend.notifications import selectors, services
from backend.notifications.models import SWITCHABLE, Channel, Notification

PAGE_SIZE = 20


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ("id", "event", "category", "title", "body", "url", "created_at", "read_at")


class ListQuery(serializers.Serializer):
    before = serializers.IntegerField(min_value=1, required=False)
    unread = serializers.BooleanField(required=False, default=False)


class NotificationListView(APIView):
    access_rule = Rule.AUTHENTICATED

    @extend_schema(parameters=[ListQuery], responses=NotificationSerializer(many=True))
    def get(self, request):
        query = ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.page_of(
            request.user,
            before=query.validated_data.get("before"),
            unread_only=query.validated_data["unread"],
            size=PAGE_SIZE,
        )
        return Response(
            {
                "results": NotificationSerializer(page, many=True).data,
                "unread_count": selectors.unread_count(request.user),
                "next_before": page[-1].pk if len(page) == PAGE_SIZE else None,
            }
        )


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=services.MAX_IDS)


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread_count = serializers.IntegerField()


class PreferencesSerializer(serializers.Serializer):
    channels = serializers.DictField(child=serializers.DictField(child=serializers.BooleanField()))
    categories = serializers.ListField(child=serializers.DictField(child=serializers.CharField()), read_only=True)


class MarkReadView(APIView):
    access_rule = Rule.AUTHENTICATED

    @extend_schema(request=MarkReadSerializer, responses=MarkedSerializer)
    def post(self, request):
        body = MarkReadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        marked = services.notifications_mark_read(user=request.user, ids=body.validated_data["ids"])
        return Response({"marked": marked, "unread_count": selectors.unread_count(request.user)})


class MarkAllReadView(APIView):
    access_rule = Rule.AUTHENTICATED

    @extend_schema(request=None, responses=MarkedSerializer)
    def post(self, request):
        marked = services.notifications_mark_all_read(user=request.user)
        return Response({"marked": marked, "unread_count": 0})


class PreferencesView(APIView):
    """GET the user's channel choices per category; PATCH some of them."""

    access_rule = Rule.AUTHENTICATED

    def _body(self, prefs) -> dict:
        return {
            "channels": {channel: {c.value: prefs.wants(channel, c) for c in SWITCHABLE} for channel in Channel.values},
            "categories": [{"key": c.value, "label": c.label} for c in SWITCHABLE],
        }

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request):
        return Response(self._body(services.preferences_of(request.user)))

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def patch(self, request):
        prefs = services.preferences_update(user=request.user, channels=request.data.get("channels"))
        return Response(self._body(prefs))
