"""Settings come from the environment, fail loudly, and pass Django's deployment checks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from backend import env

ROOT = Path(__file__).resolve().parents[3]


def run_manage(*args, extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "DB_POOL",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "backend.settings", **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path) -> dict[str, str]:
    from push.vapid import generate_keypair

    vapid_public, vapid_private = generate_keypair()
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "DATABASE_URL": "postgres://peerlearn@127.0.0.1:5432/peerlearn",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "peerlearn.example",
        "PEERLEARN_HTTPS": "true",
        "BEHIND_TLS_PROXY": "true",
        "PEERLEARN_DATA_DIR": str(tmp_path),
        "RAZORPAY_KEY_ID": "rzp_live_example",
        "RAZORPAY_KEY_SECRET": secrets.token_urlsafe(24),
        "RAZORPAY_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "VAPID_PUBLIC_KEY": vapid_public,
        "VAPID_PRIVATE_KEY": vapid_private,
        "VAPID_SUBJECT": "mailto:ops@peerlearn.example",
    }


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_payments_would_be_test_payments(tmp_path):
    settings_env = production_env(tmp_path)
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        del settings_env[name]
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=settings_env)
    assert result.returncode != 0 and "payments.W001" in result.stdout + result.stderr


def test_postgresql_connections_come_from_a_pool_unless_turned_off(tmp_path):
    show = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('pool'))"
    pooled = run_manage("shell", "-c", show, extra_env=production_env(tmp_path))
    assert pooled.returncode == 0, pooled.stderr
    assert "'max_size': 20" in pooled.stdout
    plain = run_manage("shell", "-c", show, extra_env={**production_env(tmp_path), "DB_POOL": "false"})
    assert plain.returncode == 0 and plain.stdout.strip().endswith("None")


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    settings_env = production_env(tmp_path)
    del settings_env["SECRET_KEY"]
    result = run_manage("check", extra_env=settings_env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_bad_values_name_the_variable(tmp_path):
    result = run_manage("check", extra_env={**production_env(tmp_path), "PEERLEARN_HTTPS": "maybe"})
    assert result.returncode != 0 and "PEERLEARN_HTTPS must be a boolean" in result.stderr
    result = run_manage("check", extra_env={**production_env(tmp_path), "DATABASE_URL": "mysql://x/y"})
    assert result.returncode != 0 and "DATABASE_URL must be a URL with scheme" in result.stderr


def test_embedded_default_generates_its_secret_once(tmp_path):
    result = run_manage("check", extra_env={"PEERLEARN_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    secret = (tmp_path / "secret_key").read_text()
    assert len(secret) == 64
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    run_manage("check", extra_env={"PEERLEARN_DATA_DIR": str(tmp_path)})
    assert (tmp_path / "secret_key").read_text() == secret


@pytest.mark.parametrize(
    ("name", "raw", "call"),
    [
        ("X_BOOL", "sometimes", lambda: env.env_bool("X_BOOL")),
        ("X_INT", "ten", lambda: env.env_int("X_INT", 1)),
        ("X_INT", "0", lambda: env.env_int("X_INT", 1, minimum=1)),
        ("X_URL", "ftp://host", lambda: env.env_url("X_URL", schemes=("redis",))),
    ],
)
def test_env_helpers_fail_loudly(monkeypatch, name, raw, call):
    monkeypatch.setenv(name, raw)
    with pytest.raises(env.ImproperEnvironment, match=name):
        call()


def test_env_helpers_parse(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", " 42 ")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env.env_bool("X_BOOL") is True
    assert env.env_int("X_INT", 0, maximum=50) == 42
    assert env.env_list("X_LIST") == ["a", "b", "c"]
    assert env.env_bool("X_MISSING", default=True) is True


def test_embedded_defaults_in_this_run(settings):
    if os.environ.get("DATABASE_URL"):
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    else:
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    if os.environ.get("REDIS_URL"):
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
        from channels_redis.core import RedisChannelLayer

        # A read that times out while channels_redis blocks on its queue kills the socket.
        host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
        assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
        assert settings.HUEY["huey_class"] == "huey.RedisHuey"
    else:
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "backend.core.layers.InMemoryChannelLayer"
        assert settings.HUEY["huey_class"] == "huey.SqliteHuey"


def test_embedded_sqlite_file_runs_in_wal_mode(tmp_path):
    probe = "from django.db import connection; c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    result = run_manage("shell", "-c", probe, extra_env={"PEERLEARN_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "wal"
    assert (tmp_path / "peerlearn.sqlite3").exists()


def test_openapi_schema_generates_without_warnings(tmp_path):
    result = run_manage(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        extra_env={"PEERLEARN_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "/api/bookings/" in (tmp_path / "schema.yaml").read_text()
