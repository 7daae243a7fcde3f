import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from backend.accounts.models import EmailCode
from backend.accounts.tasks import purge_signup_leftovers

pytestmark = pytest.mark.django_db


def test_purge_removes_only_old_leftovers(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    old, fresh = tmp_path / "signup-drafts" / "old", tmp_path / "signup-drafts" / "fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "photo-me.png").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    now = timezone.now()
    EmailCode.objects.create(email="a@example.com", code_hash="x", created_at=now - timedelta(days=2), expires_at=now)
    EmailCode.objects.create(email="b@example.com", code_hash="x", expires_at=now)

    assert purge_signup_leftovers() == (1, 1)
    assert not old.exists() and Path(fresh / "photo-me.png").exists()
    assert list(EmailCode.objects.values_list("email", flat=True)) == ["b@example.com"]
    assert purge_signup_leftovers() == (0, 0)  # re-running is harmless
