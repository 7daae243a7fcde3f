"""Dashboard summaries as JSON (the same selectors as the pages)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.access import Rule
from backend.dashboards import selectors
from backend.marketplace.api import BookingSerializer, MentorSessionSerializer


class RequestBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    topic = serializers.CharField()
    state = serializers.CharField()
    expires_at = serializers.DateTimeField()
    with_name = serializers.CharField()


class ActivitySerializer(serializers.Serializer):
    booking = serializers.IntegerField(source="pk")
    session = serializers.CharField(source="session.title")
    mentor = serializers.CharField(source="session.mentor.full_name")
    state = serializers.CharField()
    created_at = serializers.DateTimeField()


class LearnerDashboardSerializer(serializers.Serializer):
    upcoming = BookingSerializer(many=True)
    hours_learned = serializers.FloatField()
    sessions_completed = serializers.IntegerField()
    open_requests = RequestBriefSerializer(many=True)
    activity = ActivitySerializer(many=True)


class MentorDashboardSerializer(serializers.Serializer):
    today = MentorSessionSerializer(many=True)
    upcoming = MentorSessionSerializer(many=True)
    drafts = serializers.IntegerField()
    completed = serializers.IntegerField()
    rating = serializers.FloatField(allow_null=True)
    review_count = serializers.IntegerField()
    followers = serializers.IntegerField()
    learners_taught = serializers.IntegerField()
    pending_requests = RequestBriefSerializer(many=True)


def _with_names(requests, attribute):
    for request in requests:
        request.with_name = getattr(request, attribute).full_name
    return requests


class LearnerDashboardView(APIView):
    access_rule = Rule.LEARNER

    @extend_schema(responses=LearnerDashboardSerializer)
    def get(self, request):
        data = selectors.learner_home(request.user)
        _with_names(data["open_requests"], "mentor")
        return Response(LearnerDashboardSerializer(data).data)


class MentorDashboardView(APIView):
    access_rule = Rule.MENTOR

    @extend_schema(responses=MentorDashboardSerializer)
    def get(self, request):
        data = selectors.mentor_home(request.user)
        _with_names(data["pending_requests"], "learner")
        return Response(MentorDashboardSerializer(data).data)
