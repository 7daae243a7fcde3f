"""Typed readers for the environment.

Settings never parse os.environ by hand: a malformed value stops the process at start-up
with a message naming the variable, instead of surfacing later as odd behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path


class ImproperEnvironment(Exception):
    pass


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_required(name: str) -> str:
    value = env_str(name)
    if not value:
        raise ImproperEnvironment(f"{name} must be set")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperEnvironment(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperEnvironment(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperEnvironment(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperEnvironment(f"{name} must be at most {maximum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(name: str, default: list[int], *, minimum: int = 0, maximum: int | None = None) -> list[int]:
    """Comma-separated integers ("30,10"), each checked like env_int."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    values = []
    for item in (part.strip() for part in raw.split(",")):
        if not item.isdigit() or int(item) < minimum or (maximum is not None and int(item) > maximum):
            raise ImproperEnvironment(f"{name} must be integers from {minimum}, comma-separated, got {raw!r}")
        values.append(int(item))
    return values


def env_url(name: str, *, schemes: tuple[str, ...]) -> str | None:
    value = env_str(name)
    if not value:
        return None
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        raise ImproperEnvironment(f"{name} must be a URL with scheme {' or '.join(schemes)}")
    return value


def env_path(name: str, default: Path) -> Path:
    value = env_str(name)
    return Path(value).expanduser().resolve() if value else default


def secret_from_env_or_file(name: str, path: Path, *, generate: bool) -> str:
    """A secret from the environment; for the embedded default only, one generated once into
    the data directory so a fresh machine runs without anyone inventing a key."""
    value = env_str(name)
    if value:
        return value
    if not generate:
        raise ImproperEnvironment(f"{name} must be set when DEBUG is off and PEERLEARN_EMBEDDED is off")
    if path.exists():
        return path.read_text().strip()
    from django.utils.crypto import get_random_string

    path.parent.mkdir(parents=True, exist_ok=True)
    secret = get_random_string(64, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#%^&*(-_=+)")
    path.write_text(secret)
    path.chmod(0o600)
    return secret
