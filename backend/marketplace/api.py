"""Marketplace REST API: thin views over the services and selectors."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.access import Rule
from backend.marketplace import selectors, services
from backend.marketplace.ics import booking_invite
from backend.marketplace.models import Domain


class SoonestFirst(CursorPagination):
    """Cursor pages for infinite scroll: stable under inserts, no COUNT(*) per page."""

    ordering = ("starts_at", "id")
    page_size = 20
    max_page_size = 50
    page_size_query_param = "page_size"


class DomainSerializer(serializers.Serializer):
    # A plain Serializer: ModelSerializer re-derives its fields from the model on every
    # instantiation, which showed up as the largest cost of the list endpoints.
    slug = serializers.CharField()
    name = serializers.CharField()
    icon = serializers.CharField()


class MentorBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    headline = serializers.CharField(source="mentor_profile.headline", default="")
    is_demo = serializers.BooleanField()


class SessionBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    topics = serializers.ListField(child=serializers.CharField())
    domain = DomainSerializer()
    mentor = MentorBriefSerializer()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField()
    price_paise = serializers.IntegerField()
    capacity = serializers.IntegerField()
    state = serializers.CharField()


class SessionSerializer(SessionBriefSerializer):
    seats_left = serializers.IntegerField()


class MentorSessionSerializer(SessionSerializer):
    room_code = serializers.CharField()
    sequence = serializers.IntegerField()
    seats_taken = serializers.IntegerField()


class SessionWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=140)
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)
    topics = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list, max_length=10
    )
    domain = serializers.SlugRelatedField(slug_field="slug", queryset=Domain.objects.all())
    starts_at = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=10_000)
    price_paise = serializers.IntegerField(required=False, default=0, min_value=0)
    capacity = serializers.IntegerField(required=False, default=1, min_value=1)

    def to_input(self) -> services.SessionInput:
        return services.SessionInput(**self.validated_data)


class SessionFilters(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    domain = serializers.SlugField(required=False, allow_blank=True, default="")
    free = serializers.BooleanField(required=False, allow_null=True, default=None)
    price_min = serializers.IntegerField(required=False, min_value=0, allow_null=True, default=None)
    price_max = serializers.IntegerField(required=False, min_value=0, allow_null=True, default=None)
    date_from = serializers.DateTimeField(required=False, allow_null=True, default=None)
    date_to = serializers.DateTimeField(required=False, allow_null=True, default=None)
    mentor = serializers.IntegerField(required=False, allow_null=True, default=None, source="mentor_id")


@extend_schema(parameters=[SessionFilters])
class SessionListView(ListAPIView):
    """Upcoming public sessions: search and filters, soonest first."""

    access_rule = Rule.PUBLIC
    serializer_class = SessionSerializer
    pagination_class = SoonestFirst

    def get_queryset(self):
        filters = SessionFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.sessions_search(**filters.validated_data)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        sessions = selectors.sessions_with_details(page)
        return self.get_paginated_response(self.get_serializer(sessions, many=True).data)


class SessionDetailView(APIView):
    access_rule = Rule.PUBLIC

    @extend_schema(responses=SessionSerializer)
    def get(self, request, session_id: int):
        return Response(SessionSerializer(selectors.get_session_for_viewer(request.user, session_id)).data)


class MentorSessionListView(ListAPIView):
    """The signed-in mentor's own sessions (all states); POST creates a draft."""

    access_rule = Rule.MENTOR
    serializer_class = MentorSessionSerializer
    pagination_class = SoonestFirst

    def get_queryset(self):
        return selectors.sessions_of_mentor(self.request.user, state=self.request.query_params.get("state") or None)

    @extend_schema(request=SessionWriteSerializer, responses={201: MentorSessionSerializer})
    def post(self, request):
        data = SessionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_create(mentor=request.user, data=data.to_input())
        return Response(_mentor_view(request, session.pk), status=status.HTTP_201_CREATED)


def _mentor_view(request, session_id: int) -> dict:
    return MentorSessionSerializer(selectors.get_session_for_mentor(request.user, session_id)).data


class MentorSessionDetailView(APIView):
    access_rule = Rule.MENTOR

    @extend_schema(responses=MentorSessionSerializer)
    def get(self, request, session_id: int):
        return Response(_mentor_view(request, session_id))

    @extend_schema(request=SessionWriteSerializer, responses=MentorSessionSerializer)
    def put(self, request, session_id: int):
        session = selectors.get_session_for_mentor(request.user, session_id)
        data = SessionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_update(mentor=request.user, session=session, data=data.to_input())
        return Response(_mentor_view(request, session_id))


class MentorSessionPublishView(APIView):
    access_rule = Rule.APPROVED_MENTOR

    @extend_schema(request=None, responses=MentorSessionSerializer)
    def post(self, request, session_id: int):
        session = selectors.get_session_for_mentor(request.user, session_id)
        services.session_publish(mentor=request.user, session=session)
        return Response(_mentor_view(request, session_id))


class RescheduleSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()


class MentorSessionRescheduleView(APIView):
    access_rule = Rule.MENTOR

    @extend_schema(request=RescheduleSerializer, responses=MentorSessionSerializer)
    def post(self, request, session_id: int):
        session = selectors.get_session_for_mentor(request.user, session_id)
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_reschedule(mentor=request.user, session=session, starts_at=data.validated_data["starts_at"])
        return Response(_mentor_view(request, session_id))


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class MentorSessionCancelView(APIView):
    access_rule = Rule.MENTOR

    @extend_schema(request=CancelSerializer, responses=MentorSessionSerializer)
    def post(self, request, session_id: int):
        session = selectors.get_session_for_mentor(request.user, session_id)
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_cancel(mentor=request.user, session=session, reason=data.validated_data["reason"])
        return Response(_mentor_view(request, session_id))


# --- bookings -------------------------------------------------------------------------------------
class BookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    session = SessionBriefSerializer()
    created_at = serializers.DateTimeField()
    hold_expires_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    refund_paise = serializers.IntegerField()


class BookingCreateSerializer(serializers.Serializer):
    session = serializers.IntegerField()


class ShortListPages(PageNumberPagination):
    # A user's own lists are short; page numbers let each keep its natural order (bookings:
    # soonest first when upcoming, latest first when past).
    page_size = 20


class BookingListView(ListAPIView):
    """The learner's bookings (?when=upcoming|past|all); POST books a seat."""

    access_rule = Rule.LEARNER
    serializer_class = BookingSerializer
    pagination_class = ShortListPages

    def get_queryset(self):
        when = self.request.query_params.get("when", "all")
        if when not in ("upcoming", "past", "all"):
            raise serializers.ValidationError({"when": "Use upcoming, past or all."})
        return selectors.bookings_of_learner(self.request.user, when=when)

    @extend_schema(request=BookingCreateSerializer, responses={201: BookingSerializer})
    def post(self, request):
        data = BookingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = selectors.get_session_to_join(request.user, data.validated_data["session"])
        booking = services.booking_create(learner=request.user, session=session)
        return Response(_booking_view(request, booking.pk), status=status.HTTP_201_CREATED)


def _booking_view(request, booking_id: int) -> dict:
    return BookingSerializer(selectors.get_booking_for_user(request.user, booking_id)).data


class BookingDetailView(APIView):
    access_rule = Rule.AUTHENTICATED  # the selector admits the learner and the session's mentor

    @extend_schema(responses=BookingSerializer)
    def get(self, request, booking_id: int):
        return Response(_booking_view(request, booking_id))


class QuoteSerializer(serializers.Serializer):
    paid_paise = serializers.IntegerField()
    refund_paise = serializers.IntegerField()
    rule = serializers.CharField()
    full_refund_until = serializers.DateTimeField()


class BookingCancelView(APIView):
    """GET: what cancelling now would refund. POST: cancel."""

    access_rule = Rule.LEARNER

    def _own(self, request, booking_id):
        booking = selectors.get_booking_for_user(request.user, booking_id)
        if booking.learner_id != request.user.pk:
            raise Http404
        return booking

    @extend_schema(responses=QuoteSerializer)
    def get(self, request, booking_id: int):
        return Response(QuoteSerializer(services.cancellation_quote(self._own(request, booking_id))).data)

    @extend_schema(request=None, responses=BookingSerializer)
    def post(self, request, booking_id: int):
        services.booking_cancel(learner=request.user, booking=self._own(request, booking_id))
        return Response(_booking_view(request, booking_id))


class BookingInviteView(APIView):
    access_rule = Rule.AUTHENTICATED

    @extend_schema(responses={(200, "text/calendar"): str})
    def get(self, request, booking_id: int):
        booking = selectors.get_booking_for_user(request.user, booking_id)
        response = HttpResponse(booking_invite(booking), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="peerlearn-booking-{booking.pk}.ics"'
        return response


# --- waitlist, follows, reviews -------------------------------------------------------------------
class WaitlistEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    session = serializers.IntegerField(source="session_id")
    state = serializers.CharField()
    offered_booking = serializers.IntegerField(source="offered_booking_id", allow_null=True)
    created_at = serializers.DateTimeField()


class WaitlistJoinView(APIView):
    access_rule = Rule.LEARNER

    @extend_schema(request=BookingCreateSerializer, responses={201: WaitlistEntrySerializer})
    def post(self, request):
        data = BookingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = selectors.get_session_to_join(request.user, data.validated_data["session"])
        entry = services.waitlist_join(learner=request.user, session=session)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistLeaveView(APIView):
    access_rule = Rule.LEARNER

    @extend_schema(request=None, responses=WaitlistEntrySerializer)
    def post(self, request, entry_id: int):
        entry = selectors.get_waitlist_entry_for_learner(request.user, entry_id)
        return Response(WaitlistEntrySerializer(services.waitlist_leave(learner=request.user, entry=entry)).data)


class BookingClaimView(APIView):
    """Take a held seat of a free session (waitlist offer or accepted free request)."""

    access_rule = Rule.LEARNER

    @extend_schema(request=None, responses=BookingSerializer)
    def post(self, request, booking_id: int):
        booking = selectors.get_booking_for_user(request.user, booking_id)
        if booking.learner_id != request.user.pk:
            raise Http404
        services.booking_claim(learner=request.user, booking=booking)
        return Response(_booking_view(request, booking_id))


class FollowView(APIView):
    access_rule = Rule.LEARNER

    @extend_schema(request=None, responses={204: None})
    def put(self, request, mentor_id: int):
        services.follow(learner=request.user, mentor_id=mentor_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, mentor_id: int):
        services.unfollow(learner=request.user, mentor_id=mentor_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReviewCreateView(APIView):
    access_rule = Rule.LEARNER

    @extend_schema(request=ReviewSerializer, responses={201: ReviewSerializer})
    def post(self, request, booking_id: int):
        booking = selectors.get_booking_for_user(request.user, booking_id)
        if booking.learner_id != request.user.pk:
            raise Http404
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(learner=request.user, booking=booking, **data.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


# --- requests -------------------------------------------------------------------------------------
class RequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    learner = serializers.CharField(source="learner.full_name")
    mentor = MentorBriefSerializer()
    topic = serializers.CharField()
    description = serializers.CharField()
    preferred_times = serializers.ListField(child=serializers.DateTimeField())
    duration_minutes = serializers.IntegerField()
    budget_paise = serializers.IntegerField()
    state = serializers.CharField()
    version = serializers.IntegerField()
    counter_starts_at = serializers.DateTimeField(allow_null=True)
    counter_price_paise = serializers.IntegerField(allow_null=True)
    decline_reason = serializers.CharField()
    session = serializers.IntegerField(source="session_id", allow_null=True)
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class RequestCreateSerializer(serializers.Serializer):
    mentor = serializers.IntegerField()
    topic = serializers.CharField(max_length=140)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    preferred_times = serializers.ListField(child=serializers.DateTimeField(), min_length=1, max_length=3)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=10_000)
    budget_paise = serializers.IntegerField(required=False, default=0, min_value=0)


class RequestListView(ListAPIView):
    """Requests the learner sent or the mentor received; learners POST new ones."""

    access_rule = Rule.AUTHENTICATED
    serializer_class = RequestSerializer
    pagination_class = ShortListPages

    def get_queryset(self):
        if self.request.user.role not in ("learner", "mentor"):
            raise Http404
        return selectors.requests_of_user(self.request.user, state=self.request.query_params.get("state") or None)

    @extend_schema(request=RequestCreateSerializer, responses={201: RequestSerializer})
    def post(self, request):
        data = RequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        mentor_id = values.pop("mentor")
        created = services.request_create(
            learner=request.user, mentor_id=mentor_id, data=services.RequestInput(**values)
        )
        return Response(RequestSerializer(selectors.get_request_for_user(request.user, created.pk)).data, status=201)


class RequestAnswerSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["accept", "counter", "decline", "accept_counter", "decline_counter", "withdraw"]
    )
    version = serializers.IntegerField(required=False, allow_null=True, default=None)
    starts_at = serializers.DateTimeField(required=False)
    price_paise = serializers.IntegerField(required=False, min_value=0)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


def answer_request(user, target, v: dict) -> None:
    """Run the answer in validated RequestAnswerSerializer data `v` (the API and offline sync
    share it)."""
    action, version = v["action"], v["version"]
    needs = {"accept": ["starts_at"], "counter": ["starts_at", "price_paise"]}.get(action, [])
    missing = {name: "This field is required." for name in needs if name not in v}
    if missing:
        raise serializers.ValidationError(missing)
    if action == "accept":
        services.request_accept(mentor=user, request=target, starts_at=v["starts_at"], version=version)
    elif action == "counter":
        services.request_counter(
            mentor=user, request=target, starts_at=v["starts_at"], price_paise=v["price_paise"], version=version
        )
    elif action == "decline":
        services.request_decline(mentor=user, request=target, reason=v["reason"], version=version)
    elif action in ("accept_counter", "decline_counter"):
        services.request_counter_answer(
            learner=user, request=target, accept=action == "accept_counter", version=version
        )
    else:
        services.request_withdraw(learner=user, request=target)


class RequestDetailView(APIView):
    access_rule = Rule.AUTHENTICATED  # the selector admits only the learner and the mentor

    @extend_schema(responses=RequestSerializer)
    def get(self, request, request_id: int):
        return Response(RequestSerializer(selectors.get_request_for_user(request.user, request_id)).data)

    @extend_schema(operation_id="requests_answer", request=RequestAnswerSerializer, responses=RequestSerializer)
    def post(self, request, request_id: int):
        """Answer: the mentor accepts (one proposed `starts_at`), counters (`starts_at`,
        `price_paise`) or declines (`reason`); the learner accepts or declines a counter, or
        withdraws. Send the `version` you saw: a stale answer gets 409 `stale_request`."""
        target = selectors.get_request_for_user(request.user, request_id)
        data = RequestAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer_request(request.user, target, data.validated_data)
        return Response(RequestSerializer(selectors.get_request_for_user(request.user, request_id)).data)


# --- availability ---------------------------------------------------------------------------------
class WindowSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6)
    start = serializers.TimeField(source="start_time")
    end = serializers.TimeField(source="end_time")


class AvailabilityView(APIView):
    """The mentor's weekly windows (in their own timezone) and away days."""

    access_rule = Rule.MENTOR

    class AvailabilityIO(serializers.Serializer):
        timezone = serializers.CharField(read_only=True)
        windows = WindowSerializer(many=True)
        away_days = serializers.ListField(child=serializers.DateField(), required=False)

    def _current(self, user):
        from backend.marketplace.models import AvailabilityException, AvailabilityWindow

        return {
            "timezone": user.timezone,
            "windows": WindowSerializer(AvailabilityWindow.objects.filter(mentor=user), many=True).data,
            "away_days": list(AvailabilityException.objects.filter(mentor=user).values_list("date", flat=True)),
        }

    @extend_schema(responses=AvailabilityIO)
    def get(self, request):
        return Response(self._current(request.user))

    @extend_schema(request=AvailabilityIO, responses=AvailabilityIO)
    def put(self, request):
        from django.db import transaction

        from backend.marketplace.models import AvailabilityException

        data = self.AvailabilityIO(data=request.data)
        data.is_valid(raise_exception=True)
        windows = [
            {"weekday": w["weekday"], "start": w["start_time"], "end": w["end_time"]}
            for w in data.validated_data["windows"]
        ]
        with transaction.atomic():
            services.availability_replace(mentor=request.user, windows=windows)
            if "away_days" in data.validated_data:
                wanted = set(data.validated_data["away_days"])
                for day in (
                    set(AvailabilityException.objects.filter(mentor=request.user).values_list("date", flat=True))
                    - wanted
                ):
                    services.availability_exception_set(mentor=request.user, day=day, away=False)
                for day in wanted:
                    services.availability_exception_set(mentor=request.user, day=day, away=True)
        return Response(self._current(request.user))
