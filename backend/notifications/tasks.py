"""Delivery beyond the bell: Web Push to each of the user's devices and e-mail, per the user's
channel choices, in huey after the notification committed."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from backend.notifications import jobs
from backend.notifications.catalogue import CATALOGUE
from backend.notifications.models import Channel, Notification, NotificationPreference

log = logging.getLogger(__name__)


@db_task()
def deliver_notifications(ids: list[int]):
    notifications = list(Notification.objects.filter(pk__in=ids).select_related("user"))
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(user__in={n.user_id for n in notifications})}
    for notification in notifications:
        wants = prefs.get(notification.user_id) or NotificationPreference(user=notification.user)
        if wants.wants(Channel.EMAIL, notification.category) and notification.user.email:
            send_notification_email(notification)
        if wants.wants(Channel.PUSH, notification.category):
            push_notification(notification)


def send_notification_email(notification: Notification) -> None:
    context = {
        "n": notification,
        "link": f"{settings.SITE_URL}{notification.url}" if notification.url else settings.SITE_URL,
    }
    try:
        send_mail(
            notification.title,
            render_to_string("emails/notification.txt", context),
            None,
            [notification.user.email],
            html_message=render_to_string("emails/notification.html", context),
        )
    except Exception:  # a mail server down must not stop the push that follows
        log.warning("notification %s: e-mail not sent", notification.pk, exc_info=True)


def push_notification(notification: Notification) -> None:
    """Hand the notification to Web Push for every device the user subscribed."""
    from push.delivery import push_to_user

    spec = CATALOGUE.get(notification.event)
    data = notification.data if isinstance(notification.data, dict) else {}
    push_to_user(
        notification.user_id,
        payload={
            "id": notification.pk,
            "title": notification.title,
            "body": notification.body,
            "url": notification.url or "/dashboard/",
            "category": notification.category,
            # The worker's tag: a session's 10-minute reminder replaces its 30-minute one.
            "topic": str(data.get("topic", "")),
        },
        # A notice may say how long it stays useful (a reminder: until the session starts).
        ttl_seconds=int(data.get("ttl_seconds") or (spec.ttl_seconds if spec else 24 * 3600)),
        urgency="high" if spec and spec.urgent else "normal",
        topic=str(data.get("topic", "")),
    )


@db_periodic_task(crontab(minute="*"))
def notifications_reminders():
    jobs.send_due_reminders()


@db_periodic_task(crontab(minute="*/5"))
def notifications_feedback_prompts():
    jobs.send_feedback_prompts()
