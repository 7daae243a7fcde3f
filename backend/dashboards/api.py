"""Dashboard summaries as JSON (the same selectors as the pages)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.access import Rule
from backend.dashboards import analytics, selectors
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


class MonthEarningsSerializer(serializers.Serializer):
    month = serializers.DateField()
    gross_paise = serializers.IntegerField(help_text="The mentor's share of session payments and tips this month.")
    refunds_paise = serializers.IntegerField(help_text="The mentor's share given back in refunds this month.")
    net_paise = serializers.IntegerField()
    seats = serializers.IntegerField(help_text="Session payments and tips this month (mentor's timezone).")
    available_paise = serializers.IntegerField(help_text="Withdrawable now.")


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
    earnings = MonthEarningsSerializer(
        help_text="This month so far, from the ledger: the mentor's share after fees, less refunds."
    )


class AnalyticsTotalsSerializer(serializers.Serializer):
    bookings = serializers.IntegerField(help_text="Confirmed bookings of sessions starting in the range.")
    followers = serializers.IntegerField(help_text="Followers now.")
    new_followers = serializers.IntegerField()
    rating_average = serializers.FloatField(allow_null=True, help_text="All reviews, ever.")
    review_count = serializers.IntegerField()
    reviews_in_range = serializers.IntegerField()
    completed_sessions = serializers.IntegerField()
    seats_offered = serializers.IntegerField(help_text="Capacity of sessions completed in the range.")
    seats_filled = serializers.IntegerField()
    fill_rate = serializers.FloatField(allow_null=True, help_text="seats_filled / seats_offered, 0 to 1.")


class AnalyticsWeekSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="Monday, in the mentor's timezone.")
    bookings = serializers.IntegerField()
    new_followers = serializers.IntegerField()
    followers = serializers.IntegerField(help_text="Followers at the end of the week.")
    rating_average = serializers.FloatField(allow_null=True)
    rating_count = serializers.IntegerField()


class StarCountSerializer(serializers.Serializer):
    stars = serializers.IntegerField()
    count = serializers.IntegerField()


class TopicCountSerializer(serializers.Serializer):
    topic = serializers.CharField()
    bookings = serializers.IntegerField()


class MentorAnalyticsSerializer(serializers.Serializer):
    weeks = serializers.IntegerField()
    timezone = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    totals = AnalyticsTotalsSerializer()
    by_week = AnalyticsWeekSerializer(many=True)
    rating_distribution = StarCountSerializer(many=True)
    topics = TopicCountSerializer(many=True)


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


class MentorAnalyticsView(APIView):
    access_rule = Rule.MENTOR

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "weeks",
                OpenApiTypes.INT,
                enum=list(analytics.WEEK_CHOICES),
                description=f"Weeks up to this one; anything else means {analytics.DEFAULT_WEEKS}.",
            )
        ],
        responses=MentorAnalyticsSerializer,
    )
    def get(self, request):
        weeks = analytics.parse_weeks(request.query_params.get("weeks"))
        return Response(MentorAnalyticsSerializer(analytics.mentor_analytics(request.user, weeks=weeks)).data)
