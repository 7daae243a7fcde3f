"""Template helpers of the admin money pages: amounts where zero is ₹0 (not "Free"), and the
admin home's money card counts (the home view's selector does not carry them)."""

from __future__ import annotations

from django import template

from backend.dashboards.money import inr as _inr
from backend.payments import admin_selectors

register = template.Library()


@register.filter
def inr(paise) -> str:
    return "" if paise in (None, "") else _inr(int(paise))


@register.simple_tag(takes_context=True)
def admin_money_counts(context) -> dict[str, int]:
    return admin_selectors.money_counts(context["request"].user)
