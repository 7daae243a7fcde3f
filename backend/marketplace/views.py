from django.shortcuts import render

from backend.core.access import Rule, page
from backend.marketplace import selectors


@page(Rule.PUBLIC)
def landing(request):
    domains = list(selectors.domains_with_counts())
    context = {
        "live_now": list(selectors.sessions_live_now()[:8]),
        "upcoming": list(selectors.sessions_upcoming(limit=12)),
        "domains": domains,
        "top_mentors": list(selectors.mentors_top(limit=8)),
    }
    return render(request, "marketplace/landing.html", context)
