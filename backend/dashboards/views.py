from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backend.accounts import services as account_services
from backend.accounts.models import Role, User
from backend.core.access import Rule, dashboard_url, page
from backend.core.errors import DomainError
from backend.dashboards import selectors


@page(Rule.AUTHENTICATED)
def dashboard_redirect(request):
    return redirect(dashboard_url(request.user))


@page(Rule.LEARNER)
def learner_home(request):
    return render(request, "dashboards/learner_home.html", {"nav": "home", **selectors.learner_home(request.user)})


@page(Rule.MENTOR)
def mentor_home(request):
    return render(request, "dashboards/mentor_home.html", {"nav": "home", **selectors.mentor_home(request.user)})


@page(Rule.ADMIN)
def admin_home(request):
    return render(request, "dashboards/admin_home.html", {"nav": "home", **selectors.admin_home()})


@page(Rule.ADMIN)
@require_POST
def admin_mentor_decide(request, user_id):
    mentor = get_object_or_404(User, pk=user_id, role=Role.MENTOR)
    approve = request.POST.get("decision") == "approve"
    try:
        account_services.mentor_decide(
            admin=request.user, mentor=mentor, approve=approve, reason=request.POST.get("reason", ""), request=request
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{mentor.full_name} {'approved' if approve else 'rejected'}.")
    return redirect("dashboard-admin")
