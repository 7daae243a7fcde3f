"""The mutations an offline client may queue, by name. Each one validates its arguments with the
same serializer as the online API and calls the same selector and service, so an action
replayed from the outbox behaves exactly as if it had been taken online."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rest_framework import serializers

from backend.accounts import services as account_services
from backend.accounts.api import MeView
from backend.core.errors import DomainError, Forbidden
from backend.marketplace import selectors, services
from backend.marketplace.api import (
    BookingCreateSerializer,
    RequestAnswerSerializer,
    RequestCreateSerializer,
    ReviewSerializer,
    SessionWriteSerializer,
    answer_request,
)
from backend.marketplace.models import Domain
from backend.notifications import services as notification_services

LEARNER, MENTOR = "learner", "mentor"


@dataclass(frozen=True)
class Mutation:
    roles: frozenset[str]
    arguments: type[serializers.Serializer]
    apply: Callable[..., dict]
    partial: bool = False


class _Id(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)


class _Mentor(serializers.Serializer):
    mentor = serializers.IntegerField(min_value=1)


class _Review(ReviewSerializer):
    booking = serializers.IntegerField(min_value=1)


class _RequestAnswer(RequestAnswerSerializer):
    request = serializers.IntegerField(min_value=1)


class _DomainRef(serializers.SlugRelatedField):
    """A category by slug (as the API names it) or by id (as the page's form sends it)."""

    def to_internal_value(self, data):
        if isinstance(data, int) or (isinstance(data, str) and data.isdigit()):
            found = self.get_queryset().filter(pk=int(data)).first()
            if found is None:
                self.fail("does_not_exist", slug_name="id", value=data)
            return found
        return super().to_internal_value(data)


class _SessionEdit(SessionWriteSerializer):
    id = serializers.IntegerField(min_value=1)
    domain = _DomainRef(slug_field="slug", queryset=Domain.objects.all())


def _booking_create(user, v):
    session = selectors.get_session_to_join(user, v["session"])
    booking = services.booking_create(learner=user, session=session)
    return {"booking": booking.pk, "state": booking.state}


def _booking_cancel(user, v):
    booking = selectors.get_own_booking(user, v["id"])
    booking = services.booking_cancel(learner=user, booking=booking)
    return {"booking": booking.pk, "state": booking.state, "refund_paise": booking.refund_paise}


def _waitlist_join(user, v):
    session = selectors.get_session_to_join(user, v["session"])
    return {"entry": services.waitlist_join(learner=user, session=session).pk}


def _request_create(user, v):
    values = dict(v)
    mentor_id = values.pop("mentor")
    request = services.request_create(learner=user, mentor_id=mentor_id, data=services.RequestInput(**values))
    return {"request": request.pk}


def _request_answer(user, v):
    target = selectors.get_request_for_user(user, v["request"])
    answer_request(user, target, v)
    return {"request": target.pk}


def _follow(user, v):
    services.follow(learner=user, mentor_id=v["mentor"])
    return {"mentor": v["mentor"]}


def _unfollow(user, v):
    services.unfollow(learner=user, mentor_id=v["mentor"])
    return {"mentor": v["mentor"]}


def _review_create(user, v):
    booking = selectors.get_booking_for_user(user, v["booking"])
    if booking.learner_id != user.pk:
        raise Forbidden("forbidden", "Only the learner who booked reviews it.")
    review = services.review_create(learner=user, booking=booking, rating=v["rating"], comment=v["comment"])
    return {"review": review.pk}


def _profile_update(user, v):
    if not v:
        raise DomainError("invalid", "Nothing to change.")
    account_services.account_update(
        user=user, full_name=v.get("full_name"), timezone_name=v.get("timezone"), theme=v.get("theme")
    )
    return {"profile": user.pk}


def _session_update(user, v):
    values = dict(v)
    session = selectors.get_session_for_mentor(user, values.pop("id"))
    services.session_update(mentor=user, session=session, data=services.SessionInput(**values))
    return {"session": session.pk}


class _NotificationIds(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=200)


def _notifications_read(user, v):
    return {"marked": notification_services.notifications_mark_read(user=user, ids=v["ids"])}


def _notifications_read_all(user, v):
    return {"marked": notification_services.notifications_mark_all_read(user=user)}


REGISTRY: dict[str, Mutation] = {
    "booking.create": Mutation(frozenset({LEARNER}), BookingCreateSerializer, _booking_create),
    "booking.cancel": Mutation(frozenset({LEARNER}), _Id, _booking_cancel),
    "waitlist.join": Mutation(frozenset({LEARNER}), BookingCreateSerializer, _waitlist_join),
    "request.create": Mutation(frozenset({LEARNER}), RequestCreateSerializer, _request_create),
    "request.answer": Mutation(frozenset({LEARNER, MENTOR}), _RequestAnswer, _request_answer),
    "mentor.follow": Mutation(frozenset({LEARNER}), _Mentor, _follow),
    "mentor.unfollow": Mutation(frozenset({LEARNER}), _Mentor, _unfollow),
    "review.create": Mutation(frozenset({LEARNER}), _Review, _review_create),
    "profile.update": Mutation(frozenset({LEARNER, MENTOR}), MeView.Update, _profile_update, partial=True),
    "session.update": Mutation(frozenset({MENTOR}), _SessionEdit, _session_update),
    "notifications.read": Mutation(frozenset({LEARNER, MENTOR}), _NotificationIds, _notifications_read),
    "notifications.read_all": Mutation(frozenset({LEARNER, MENTOR}), serializers.Serializer, _notifications_read_all),
}


def run(user, name: str, args) -> dict:
    """Validate and apply one mutation; raises DomainError (or DRF's ValidationError, Http404)
    when it is refused."""
    mutation = REGISTRY.get(name)
    if mutation is None:
        raise DomainError("unknown_mutation", f"This app version does not know the action {name!r}.")
    if user.role not in mutation.roles:
        raise Forbidden("wrong_role", "Your account cannot do this.")
    if not isinstance(args, dict):
        raise DomainError("invalid", "The action's details are malformed.")
    data = mutation.arguments(data=args, partial=mutation.partial)
    data.is_valid(raise_exception=True)
    return mutation.apply(user, data.validated_data)
