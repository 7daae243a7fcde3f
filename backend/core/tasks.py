"""Platform housekeeping jobs."""

from django.db import connection
from huey import crontab
from huey.contrib.djhuey import db_periodic_task


def refresh_planner_statistics() -> None:
    """SQLite keeps no statistics unless asked; without them it may pick the `state` index and
    sort every upcoming session instead of walking `starts_at` in order. (PostgreSQL's
    autovacuum does this by itself.)"""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@db_periodic_task(crontab(hour="3", minute="40"))
def nightly_planner_statistics():
    refresh_planner_statistics()
