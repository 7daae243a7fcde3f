"""Admin reports: the overview's charts and KPI labels (the page itself is views.admin_home), the
audit log (read-only, filterable, keyset-paginated, CSV), and the monthly revenue report (page,
CSV and PDF). Thin doors over admin_reports_selectors; the only writes are the audit entries
recording each download.

Every page answers with `Cache-Control: no-store` (never_cache, csv_download): they hold
e-mails, IP addresses and money figures, which must not land in the service worker's cache."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from backend.accounts.audit import audit_record
from backend.core.access import Rule, page
from backend.core.csv_export import csv_download, csv_lines, csv_rupees, csv_text
from backend.core.templatetags.ui import viewer_zone
from backend.dashboards import admin_reports_selectors as reports
from backend.dashboards.money import inr
from backend.dashboards.revenue_pdf import revenue_pdf


def _chart(kind: str, labels: list, datasets: list[dict], **options) -> dict:
    """What static/js/analytics.js draws (as on the mentor's earnings and analytics pages)."""
    return {"type": kind, "labels": labels, "datasets": datasets, **options}


def _panel(key: str, title: str, summary: str, chart: dict | None, columns: list[str], rows: list[list]) -> dict:
    """A chart card: the chart (None when there is nothing to draw), a text summary, and the
    same numbers as a table for screen readers and anyone without the chart."""
    return {"key": key, "title": title, "summary": summary, "chart": chart, "columns": columns, "rows": rows}


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{pluralize(count)}"


def percent_label(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


# --- overview -----------------------------------------------------------------------------------
def _revenue_panel(weeks: list[dict]) -> dict:
    labels = [f"{w['week']:%-d %b}" for w in weeks]
    gross = sum(w["gross"] for w in weeks)
    summary = f"No payments over the last {len(weeks)} weeks."
    chart = None
    if gross or any(w["refunded"] for w in weeks):
        best = max(weeks, key=lambda w: w["gross"])
        summary = (
            f"{inr(gross)} captured over the last {len(weeks)} weeks, of which the platform kept "
            f"{inr(sum(w['fee'] for w in weeks))} in fees after refunds; "
            f"the best week began {best['week']:%-d %b} with {inr(best['gross'])}."
        )
        chart = _chart(
            "bar",
            labels,
            [
                {"label": "Gross captured", "data": [w["gross"] / 100 for w in weeks], "color": "brand"},
                {"label": "Refunded", "data": [w["refunded"] / 100 for w in weeks], "color": "muted"},
                {"label": "Platform fee", "data": [w["fee"] / 100 for w in weeks], "color": "accent", "type": "line"},
            ],
            money=True,
        )
    rows = [
        [label, w["payments"], inr(w["gross"]), inr(w["refunded"]), inr(w["fee"])]
        for label, w in zip(labels, weeks, strict=True)
    ]
    columns = ["Week of", "Payments", "Gross", "Refunded", "Platform fee"]
    return _panel("revenue", "Revenue and platform fee per week", summary, chart, columns, rows)


def _sessions_panel(days: list[dict]) -> dict:
    labels = [f"{d['day']:%a %-d %b}" for d in days]
    held = sum(d["held"] for d in days)
    cancelled = sum(d["cancelled"] for d in days)
    summary = f"No sessions over the last {len(days)} days."
    chart = None
    if held or cancelled:
        busiest = max(days, key=lambda d: d["held"])
        summary = (
            f"{_plural(held, 'session')} held or scheduled over the last {len(days)} days "
            f"and {cancelled:,} cancelled; the busiest day was {busiest['day']:%a %-d %b} with {busiest['held']}."
        )
        chart = _chart(
            "bar",
            [f"{d['day']:%-d %b}" for d in days],
            [
                {"label": "Held or scheduled", "data": [d["held"] for d in days], "color": "brand"},
                {"label": "Cancelled", "data": [d["cancelled"] for d in days], "color": "muted"},
            ],
            stacked=True,
        )
    rows = [[label, d["held"], d["cancelled"]] for label, d in zip(labels, days, strict=True)]
    return _panel("sessions", "Sessions per day", summary, chart, ["Day", "Held or scheduled", "Cancelled"], rows)


def _signups_panel(weeks: list[dict]) -> dict:
    labels = [f"{w['week']:%-d %b}" for w in weeks]
    learners = sum(w["learner"] for w in weeks)
    mentors = sum(w["mentor"] for w in weeks)
    summary = f"No sign-ups over the last {len(weeks)} weeks."
    chart = None
    if learners or mentors:
        summary = (
            f"{_plural(learners, 'learner')} and {_plural(mentors, 'mentor')} signed up over the last "
            f"{len(weeks)} weeks."
        )
        chart = _chart(
            "bar",
            labels,
            [
                {"label": "Learners", "data": [w["learner"] for w in weeks], "color": "brand"},
                {"label": "Mentors", "data": [w["mentor"] for w in weeks], "color": "accent"},
            ],
            stacked=True,
        )
    rows = [[label, w["learner"], w["mentor"]] for label, w in zip(labels, weeks, strict=True)]
    return _panel("signups", "Sign-ups per week", summary, chart, ["Week of", "Learners", "Mentors"], rows)


def overview_context(data: dict) -> dict:
    """What admin_home.html shows on top of the selector's figures: money labels and the three
    chart panels."""
    panels = [
        _revenue_panel(data["money_by_week"]),
        _sessions_panel(data["sessions_by_day"]),
        _signups_panel(data["signups_by_week"]),
    ]
    month, last_30 = data["money_month"], data["money_30d"]
    return {
        "money_labels": {
            "gross_month": inr(month["gross"]),
            "gross_30d": inr(last_30["gross"]),
            "fee_month": inr(month["fee"]),
            "fee_30d": inr(last_30["fee"]),
            "refunded_30d": inr(last_30["refunded"]),
        },
        "refund_rate_label": percent_label(data["refund_rate_30d"]),
        "panels": panels,
        "charts": {p["key"]: p["chart"] for p in panels if p["chart"]},
    }


# --- audit log ----------------------------------------------------------------------------------
class AuditFilterForm(forms.Form):
    action = forms.CharField(
        label="Action",
        required=False,
        max_length=65,
        widget=forms.TextInput(
            attrs={"list": "audit-actions", "placeholder": "auth.* or auth.login", "autocapitalize": "none"}
        ),
    )
    actor = forms.EmailField(
        label="Who (e-mail)",
        required=False,
        widget=forms.EmailInput(attrs={"placeholder": "ada@example.com", "autocapitalize": "none"}),
    )
    target_type = forms.CharField(
        label="Target type", required=False, max_length=64, widget=forms.TextInput(attrs={"placeholder": "user"})
    )
    target_id = forms.CharField(
        label="Target id", required=False, max_length=64, widget=forms.TextInput(attrs={"placeholder": "42"})
    )
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_action(self) -> str:
        action = self.cleaned_data["action"].strip().lower()
        if action and not reports.ACTION_PATTERN.match(action):
            raise forms.ValidationError("An action looks like auth.login, or auth.* for all of its kind.")
        return action

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self, zone) -> reports.AuditFilter:
        data = self.cleaned_data
        return reports.AuditFilter(
            action=data["action"],
            actor=data["actor"],
            target_type=data["target_type"].strip(),
            target_id=data["target_id"].strip(),
            date_from=data["date_from"],
            date_to=data["date_to"],
            zone=zone,
        )


BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "python-requests"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def short_user_agent(agent: str) -> str:
    """ "Chrome 120 on Android" from a user-agent string; its start when it is not a browser's."""
    if not agent:
        return ""
    browser = ""
    for token, name in BROWSERS:
        if token in agent:
            version = re.search(re.escape(token) + r"(\d+)", agent)
            browser = f"{name} {version[1]}" if version else name
            break
    system = next((name for token, name in SYSTEMS if token in agent), "")
    if browser or system:
        return " on ".join(part for part in (browser, system) if part)
    return agent if len(agent) <= 40 else f"{agent[:40]}…"


DETAILS_SHOWN = 160


def compact_data(data) -> str:
    """An entry's data as "key: value, …" (values that are not text as JSON), keys sorted."""
    if not data:
        return ""
    if not isinstance(data, dict):
        return json.dumps(data, ensure_ascii=False)
    return ", ".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)}"
        for key, value in sorted(data.items())
    )


def _with_labels(event):
    event.from_agent = short_user_agent(event.user_agent)
    event.details = compact_data(event.data)
    event.details_short = event.details if len(event.details) <= DETAILS_SHOWN else f"{event.details[:DETAILS_SHOWN]}…"
    return event


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_audit(request):
    zone = viewer_zone({"request": request})
    form = AuditFilterForm(request.GET)
    context = {
        "nav": "audit",
        "form": form,
        "families": reports.AUDIT_FAMILIES,
        "known_actions": reports.KNOWN_ACTIONS,
        "query": _query_without(request, "older", "newer"),
        "zone_name": zone.key,
    }
    if not form.is_valid():
        return render(request, "dashboards/admin_audit.html", {**context, "events": [], "invalid": True}, status=400)
    filters = form.filters(zone)
    log_page = reports.audit_page(
        reports.audit_events(request.user, filters),
        older_than=request.GET.get("older", ""),
        newer_than=request.GET.get("newer", ""),
    )
    context.update(
        filtered=filters.active,
        events=[_with_labels(event) for event in log_page.events],
        newer=log_page.newer,
        older=log_page.older,
        is_first=not (request.GET.get("older") or request.GET.get("newer")),
        page_size=reports.AUDIT_PAGE_SIZE,
    )
    return render(request, "dashboards/admin_audit.html", context)


AUDIT_CSV_HEADER = ["When (UTC)", "Who", "Action", "Target type", "Target id", "IP address", "User agent", "Details"]


def _audit_csv_rows(events) -> Iterator[list]:
    # .iterator(): an export of millions of entries streams in chunks, never all in memory.
    for event in events.iterator(chunk_size=500):
        yield [
            f"{event.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            csv_text(event.actor.email if event.actor_id else "system"),
            csv_text(event.action),
            csv_text(event.target_type),
            csv_text(event.target_id),
            event.ip_address or "",
            csv_text(event.user_agent),
            csv_text(json.dumps(event.data, ensure_ascii=False, sort_keys=True) if event.data else ""),
        ]


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_audit_csv(request):
    zone = viewer_zone({"request": request})
    form = AuditFilterForm(request.GET)
    if not form.is_valid():  # the page says what is wrong with the filters
        return redirect(f"{reverse('admin-audit')}?{_query_without(request)}")
    filters = form.filters(zone)
    events = reports.audit_events(request.user, filters)
    audit_record(action="export.audit", actor=request.user, request=request, filters=filters.as_data())
    lines = csv_lines(AUDIT_CSV_HEADER, _audit_csv_rows(events))
    return csv_download(request, lines, f"peerlearn-audit-{timezone.now():%Y-%m-%d}.csv")


# --- monthly revenue report ---------------------------------------------------------------------
def summary_lines(report: reports.RevenueReport) -> list[dict]:
    """The report's summary, the same on the page and in the PDF. `level` 1 lines are parts of
    the line above them; each group of parts adds up to it exactly."""
    t = report.totals

    def line(label: str, key: str, note: str = "", level: int = 0) -> dict:
        return {"label": label, "key": key, "paise": t[key], "note": note, "level": level}

    return [
        line(
            "Gross captured",
            "gross",
            f"{_plural(t['payments'], 'session payment')} for {_plural(t['sessions'], 'session')}, "
            f"{_plural(t['tip_count'], 'tip')}",
        ),
        line("Session payments", "sessions_gross", level=1),
        line("Tips", "tips", level=1),
        line("Mentor shares", "share", "of the gross", level=1),
        line("Platform fee", "fee", "of the gross", level=1),
        line("Refunds", "refunds", "confirmed by the gateway this month"),
        line("Mentor shares returned", "share_back", level=1),
        line("Platform fee returned", "fee_back", level=1),
        line("Net revenue", "net", "gross captured less refunds"),
        line("Net mentor shares", "net_share", level=1),
        line("Net platform fee", "net_fee", level=1),
        line("Payouts made", "payouts", f"{_plural(t['payout_count'], 'withdrawal')} paid to mentors"),
    ]


MENTOR_PAGE_SIZE = 50


def _report_or_error(request) -> tuple[reports.RevenueReport | None, str]:
    try:
        month = reports.parse_month(request.GET.get("month"))
    except reports.MonthError as exc:
        return None, str(exc)
    return reports.revenue_report(request.user, month), ""


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_revenue(request):
    report, error = _report_or_error(request)
    this_month = reports.current_month()
    context = {
        "nav": "revenue",
        "error": error,
        "this_month": this_month,
        "default_month": reports.previous_month(this_month),
    }
    if report is None:
        context["month_value"] = request.GET.get("month", "")[:7]
        return render(request, "dashboards/admin_revenue.html", context, status=400)
    month_value = f"{report.month:%Y-%m}"
    previous = reports.previous_month(report.month)
    following = reports.next_month(report.month)
    context.update(
        report=report,
        month_value=month_value,
        month_query=urlencode({"month": month_value}),
        summary=[{**line, "label_inr": inr(line["paise"])} for line in summary_lines(report)],
        mentors=Paginator([_mentor_labels(m) for m in report.mentors], MENTOR_PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        totals_row=_mentor_labels(report.totals),
        refund_rate_label=percent_label(report.totals["refund_rate"]),
        fee_share_label=percent_label(reports.percent(report.totals["fee"], report.totals["gross"])),
        previous_month=previous if previous >= reports.FIRST_MONTH else None,
        next_month=following if following <= this_month else None,
    )
    return render(request, "dashboards/admin_revenue.html", context)


def _mentor_labels(row: dict) -> dict:
    return {**row, **{f"{key}_label": inr(row[key]) for key in reports.AMOUNTS}}


REVENUE_CSV_COLUMNS = (
    ("Session payments", "payments", False),
    ("Sessions", "sessions", False),
    ("Sessions gross (INR)", "sessions_gross", True),
    ("Tips", "tip_count", False),
    ("Tips (INR)", "tips", True),
    ("Gross captured (INR)", "gross", True),
    ("Mentor share (INR)", "share", True),
    ("Platform fee (INR)", "fee", True),
    ("Refunds (INR)", "refunds", True),
    ("Mentor share returned (INR)", "share_back", True),
    ("Platform fee returned (INR)", "fee_back", True),
    ("Net revenue (INR)", "net", True),
    ("Net mentor share (INR)", "net_share", True),
    ("Net platform fee (INR)", "net_fee", True),
    ("Payouts", "payout_count", False),
    ("Payouts made (INR)", "payouts", True),
)


def _revenue_csv_rows(report: reports.RevenueReport) -> Iterator[list]:
    month = f"{report.month:%Y-%m}"

    def figures(row: dict) -> list:
        return [csv_rupees(row[key]) if money else row[key] for _, key, money in REVENUE_CSV_COLUMNS]

    for mentor in report.mentors:
        yield [month, mentor["mentor_id"] or "", csv_text(mentor["name"]), csv_text(mentor["email"]), *figures(mentor)]
    yield [month, "", "All mentors", "", *figures(report.totals)]


def _bad_month_redirect(request):
    return redirect(f"{reverse('admin-revenue')}?{urlencode({'month': request.GET.get('month', '')[:20]})}")


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_revenue_csv(request):
    report, error = _report_or_error(request)
    if report is None:
        return _bad_month_redirect(request)
    month = f"{report.month:%Y-%m}"
    audit_record(action="export.revenue_csv", actor=request.user, request=request, month=month)
    header = ["Month", "Mentor id", "Mentor", "E-mail", *(label for label, _, _ in REVENUE_CSV_COLUMNS)]
    return csv_download(request, csv_lines(header, _revenue_csv_rows(report)), f"peerlearn-revenue-{month}.csv")


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_revenue_pdf(request):
    report, error = _report_or_error(request)
    if report is None:
        return _bad_month_redirect(request)
    month = f"{report.month:%Y-%m}"
    document = revenue_pdf(report, summary_lines(report), generated_at=timezone.now())
    audit_record(action="export.revenue_pdf", actor=request.user, request=request, month=month)
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="peerlearn-revenue-{month}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("audit/", admin_audit, name="admin-audit"),
    path("audit/export.csv", admin_audit_csv, name="admin-audit-csv"),
    path("reports/revenue/", admin_revenue, name="admin-revenue"),
    path("reports/revenue.csv", admin_revenue_csv, name="admin-revenue-csv"),
    path("reports/revenue.pdf", admin_revenue_pdf, name="admin-revenue-pdf"),
]
