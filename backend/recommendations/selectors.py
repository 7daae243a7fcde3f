"""Reads for the admin recommendations page."""

from __future__ import annotations

from backend.recommendations import training
from backend.recommendations.models import Interaction, ModelRun, RunKind


def admin_overview() -> dict:
    return {
        "evaluation": ModelRun.objects.filter(kind=RunKind.EVALUATE).first(),
        "training": ModelRun.objects.filter(kind=RunKind.TRAIN).first(),
        "serving_version": training.latest_version(),
        "interactions": Interaction.objects.count(),
    }
