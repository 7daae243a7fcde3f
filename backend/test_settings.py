"""Settings for the test suite: the real settings, read from the same environment, with a
throw-away data folder, a fast password hasher and huey running tasks inline."""

import os
import secrets
import tempfile

os.environ.setdefault("PEERLEARN_DATA_DIR", tempfile.mkdtemp(prefix="peerlearn-test-"))
os.environ.setdefault("STATIC_FROM_SOURCE", "true")
os.environ.setdefault("HUEY_IMMEDIATE", "true")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("CACHE_KEY_PREFIX", f"peerlearn-test-{os.getpid()}")
# No connection pool under test: channels' live server forks daphne from this process, and a
# forked child must not inherit the parent's pooled connections (their sockets are shared). The
# pool's settings are checked by test_settings.py in a fresh process instead.
os.environ.setdefault("DB_POOL", "false")

from backend.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not ":memory:", so concurrency tests see SQLite's real locking (WAL + IMMEDIATE).
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
else:
    # Named explicitly: channels' live server derives the name in its daphne process from
    # TEST.NAME, and would prefix "test_" a second time otherwise.
    DATABASES["default"]["TEST"] = {"NAME": "test_" + DATABASES["default"]["NAME"]}  # noqa: F405
