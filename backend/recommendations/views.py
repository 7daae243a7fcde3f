"""The admin recommendations page: the stored evaluation report and a "Retrain now" button."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backend.core.access import Rule, page
from backend.recommendations import selectors, tasks


@page(Rule.ADMIN)
def admin_recommendations(request):
    context = {"nav": "recommendations", "training_now": tasks.is_training(), **selectors.admin_overview()}
    return render(request, "recommendations/admin.html", context)


@page(Rule.ADMIN)
@require_POST
def admin_recommendations_retrain(request):
    if tasks.is_training():
        messages.error(request, "A training run is already in progress; wait for it to finish.")
    else:
        tasks.recommendations_train()
        messages.success(request, "Retraining started. The new model is served as soon as it is ready.")
    return redirect("admin-recommendations")
