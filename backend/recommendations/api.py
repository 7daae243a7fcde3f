"""GET /api/recommendations/: sessions the signed-in learner can book, best first, with reasons."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.access import Rule
from backend.recommendations import serving


class RecommendationQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=serving.CANDIDATES, required=False, default=10)


class RecommendedSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="session.pk")
    title = serializers.CharField(source="session.title")
    mentor_id = serializers.IntegerField(source="session.mentor_id")
    mentor_name = serializers.CharField(source="session.mentor.full_name")
    domain = serializers.CharField(source="session.domain.name")
    topics = serializers.ListField(child=serializers.CharField(), source="session.topics")
    starts_at = serializers.DateTimeField(source="session.starts_at")
    duration_minutes = serializers.IntegerField(source="session.duration_minutes")
    price_paise = serializers.IntegerField(source="session.price_paise")
    seats_left = serializers.IntegerField(source="session.seats_left")
    reason = serializers.CharField()
    score = serializers.FloatField()


class RecommendationListSerializer(serializers.Serializer):
    results = RecommendedSessionSerializer(many=True)
    model_version = serializers.CharField(allow_null=True)
    fallback = serializers.BooleanField(help_text="True when no trained model is available (interests and popularity).")


class RecommendationsView(APIView):
    access_rule = Rule.LEARNER

    @extend_schema(parameters=[RecommendationQuery], responses=RecommendationListSerializer)
    def get(self, request):
        query = RecommendationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = serving.recommend(request.user, limit=query.validated_data["limit"])
        return Response(
            RecommendationListSerializer(
                {"results": found.items, "model_version": found.model_version, "fallback": found.fallback}
            ).data
        )
