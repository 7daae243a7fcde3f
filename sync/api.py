"""The sync API's two doors: pull (changes since a cursor) and push (a batch of mutations)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.access import Rule
from backend.core.errors import error_response
from sync import pull, push


class PullView(APIView):
    """Everything the user keeps offline that changed since `cursor` (upserts and deletions per
    collection, and the profile when it changed), with the next cursor. Without a cursor, or
    with one too old to replay, `reset` is true and the changes are a full snapshot: replace the
    local store with them."""

    access_rule = Rule.AUTHENTICATED

    @extend_schema(parameters=[OpenApiParameter("cursor", str, required=False)], responses={200: dict})
    def get(self, request):
        body = pull.pull(user=request.user, raw_cursor=request.query_params.get("cursor") or None)
        return Response(body, headers={"Cache-Control": "no-store"})


class QueuedMutationSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=2**62)
    name = serializers.CharField(max_length=60)
    args = serializers.JSONField(required=False, default=dict)


class PushSerializer(serializers.Serializer):
    client_id = serializers.UUIDField()
    mutations = serializers.ListField(child=QueuedMutationSerializer(), allow_empty=True)


class PushView(APIView):
    """Apply queued mutations in order, each exactly once. The answer lists each mutation's
    outcome (`applied`, `refused` with an error, `duplicate`, or `gap` / `retry`, which stop the
    batch) and the client's `last_mutation_id`."""

    access_rule = Rule.AUTHENTICATED

    @extend_schema(request=PushSerializer, responses={200: dict})
    def post(self, request):
        mutations = request.data.get("mutations") if isinstance(request.data, dict) else None
        if isinstance(mutations, list) and len(mutations) > settings.SYNC_MAX_BATCH:
            return error_response("batch_too_large", f"Send at most {settings.SYNC_MAX_BATCH} changes at a time.", 413)
        data = PushSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        queued = [push.QueuedMutation(m["id"], m["name"], m["args"]) for m in data.validated_data["mutations"]]
        body = push.push(user=request.user, client_id=data.validated_data["client_id"], queued=queued)
        return Response(body, headers={"Cache-Control": "no-store"})
