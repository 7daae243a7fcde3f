"""Template helpers of the design system: icons, money, and times in the viewer's zone."""

from __future__ import annotations

import zoneinfo

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def icon(name: str, size: int = 20, label: str = ""):
    """A Heroicon from the vendored sprite. Decorative unless a label is given."""
    href = f"{static('icons/heroicons.svg')}#i-{name}"
    if label:
        return format_html(
            '<svg class="icon" width="{}" height="{}" role="img" aria-label="{}"><use href="{}"></use></svg>',
            size,
            size,
            label,
            href,
        )
    return format_html(
        '<svg class="icon" width="{}" height="{}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>',
        size,
        size,
        href,
    )


@register.filter
def rupees(paise) -> str:
    if paise in (None, ""):
        return ""
    paise = int(paise)
    if paise == 0:
        return "Free"
    rupee, rest = divmod(paise, 100)
    return f"₹{rupee:,}" if rest == 0 else f"₹{rupee:,}.{rest:02d}"


def viewer_zone(context) -> zoneinfo.ZoneInfo:
    request = context.get("request")
    name = settings.DEFAULT_USER_TIMEZONE
    if request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name = user.timezone
        else:
            name = request.COOKIES.get("tz", name)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.DEFAULT_USER_TIMEZONE)


@register.simple_tag(takes_context=True)
def local_time(context, value, fmt: str = "%a %-d %b, %-I:%M %p"):
    """A UTC datetime shown in the viewer's timezone, with the zone named."""
    if value is None:
        return ""
    local = value.astimezone(viewer_zone(context))
    zone = local.strftime("%Z")
    if zone.startswith(("+", "-")):
        zone = f"UTC{zone}"
    return format_html(
        '<time datetime="{}">{} {}</time>',
        value.isoformat(),
        local.strftime(fmt).replace("AM", "am").replace("PM", "pm"),
        zone,
    )


@register.filter
def minutes_label(minutes) -> str:
    minutes = int(minutes or 0)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"
