"""What a live room keeps: who was there and when (attendance evidence for reviews, refunds and
payouts), the timer, and what was said, drawn and ticked off, so a (re)joiner gets it back."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from backend.marketplace.models import Session


class RoomState(models.Model):
    """The call's clock. It runs only while the mentor and at least one learner are both present
    after the session went live: `elapsed_seconds` holds the finished stretches and
    `running_since` the start of the current one."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True, related_name="room_state")
    elapsed_seconds = models.PositiveIntegerField(default=0)
    running_since = models.DateTimeField(null=True, blank=True)
    went_live_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Presence(models.Model):
    """One socket of one member in a room, from connect to disconnect. `peer` is the public id
    other members address signals to; `channel_name` is the server's own address for it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="presences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_presences")
    role = models.CharField(max_length=10)  # "mentor" or "learner", as admitted
    peer = models.CharField(max_length=32, unique=True)
    channel_name = models.CharField(max_length=200)
    joined_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    ready = models.BooleanField(default=False)
    audio = models.BooleanField(default=True)
    video = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["session", "left_at"], name="rooms_presence_open")]


class ChatMessage(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="chat_messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session", "id"], name="rooms_chat_by_session")]


class Stroke(models.Model):
    """One whiteboard stroke: {color, width, points} with points in 0…1 of the board's box."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="strokes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session", "id"], name="rooms_stroke_by_session")]


class ChecklistMark(models.Model):
    """A topic of the session ticked off (or unticked) in the room."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="checklist_marks")
    index = models.PositiveSmallIntegerField()
    done = models.BooleanField(default=False)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "index"], name="rooms_checklist_once")]
