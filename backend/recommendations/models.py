"""The interaction log the model learns from, and a record of each training and evaluation run."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    BOOKED = "booked", "Booked a session"
    ATTENDED = "attended", "Attended a session"
    TIPPED = "tipped", "Tipped a mentor"
    FOLLOWED = "followed", "Followed a mentor"
    REQUESTED = "requested", "Requested a session"
    RATED = "rated", "Rated a session"
    VIEWED_SESSION = "viewed_session", "Viewed a session page"
    VIEWED_MENTOR = "viewed_mentor", "Viewed a mentor page"


class Interaction(models.Model):
    """One thing a learner did about a mentor (and, when there is one, a session). Weights are not
    stored: they live in signals.WEIGHTS, so changing them applies to the whole history."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        "marketplace.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.PositiveSmallIntegerField(default=0, help_text="The rating, for kind=rated.")
    # The booking, request or review behind the row: an event published twice (a booking created
    # then confirmed) is logged once.
    ref = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["learner", "-created_at"], name="interaction_learner_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "ref"], condition=models.Q(ref__isnull=False), name="interaction_once_per_ref"
            )
        ]


class RunKind(models.TextChoices):
    TRAIN = "train", "Training"
    EVALUATE = "evaluate", "Evaluation"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ModelRun(models.Model):
    kind = models.CharField(max_length=10, choices=RunKind.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    version = models.CharField(max_length=40, blank=True, help_text="The artefact written by a training run.")
    train_seconds = models.FloatField(null=True, blank=True)
    users = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    interactions = models.PositiveBigIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="Evaluation metrics and parameters.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["kind", "-started_at"], name="modelrun_kind_recent")]
