"""`manage.py check --deploy` warns when Web Push runs on keys nobody configured: a pair generated
into the data directory is lost with it, and every device subscribed with it stops receiving."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def vapid_configured(app_configs, **kwargs):
    issues = []
    if settings.VAPID_KEYS_GENERATED:
        issues.append(
            Warning(
                "Web Push uses a VAPID key pair generated into the data directory.",
                hint="Run `python manage.py generate_vapid_keys` once and set VAPID_PUBLIC_KEY and "
                "VAPID_PRIVATE_KEY; keep them for good (changing them orphans every subscription).",
                id="push.W001",
            )
        )
    if settings.VAPID_SUBJECT == settings.VAPID_SUBJECT_DEFAULT:
        issues.append(
            Warning(
                "VAPID_SUBJECT is the placeholder address; push services use it to reach the operator.",
                hint="Set VAPID_SUBJECT to a mailto: address or https: URL you read.",
                id="push.W002",
            )
        )
    return issues
