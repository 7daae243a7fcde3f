"""VAPID (RFC 8292) keys: the application server's identity towards push services.

Keys are base64url without padding, the form browsers take as `applicationServerKey`: the public
key is the raw 65-byte uncompressed P-256 point, the private key the 32-byte scalar. Every
subscription is bound to the public key it was made with, so the pair must survive restarts and
deploys: production sets both in the environment; the embedded default generates a pair once into
the data directory. This module is imported by settings, so it must not import Django models.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.env import ImproperEnvironment, env_str

# Push services accept tokens up to 24 h; 12 h leaves room for clock skew, and a token is reused
# (one ECDSA signature per push service and 12 h instead of one per message) until an hour is left.
TOKEN_LIFETIME_SECONDS = 12 * 3600
TOKEN_RENEW_BEFORE_SECONDS = 3600


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError on anything else."""
    if not isinstance(text, str) or not text or any(c in text for c in "+/ \n"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def generate_keypair() -> tuple[str, str]:
    """A new (public, private) pair, both base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    return public_key_of(key), b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url_encode(
        key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def private_key_from(private_b64: str) -> ec.EllipticCurvePrivateKey:
    raw = b64url_decode(private_b64)
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def keys_from_env_or_file(path: Path, *, generate: bool) -> tuple[str, str, bool]:
    """(public, private, generated). Both variables set: used, after checking they are one pair.
    Neither: the pair stored at `path`, generated there once if `generate`. One of two: an error."""
    public, private = env_str("VAPID_PUBLIC_KEY"), env_str("VAPID_PRIVATE_KEY")
    generated = False
    if not public and not private:
        if not generate:
            raise ImproperEnvironment("VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(generate_keypair()[1])
            path.chmod(0o600)
        private, generated = path.read_text().strip(), True
        public = public_key_of(private_key_from(private))
    elif not public or not private:
        raise ImproperEnvironment("set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither")
    try:
        derived = public_key_of(private_key_from(private))
    except ValueError:
        raise ImproperEnvironment("VAPID_PRIVATE_KEY must be a base64url 32-byte P-256 private key") from None
    if derived != public.rstrip("="):
        raise ImproperEnvironment("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY")
    return derived, private, generated


def subject_from_env(default: str) -> str:
    subject = env_str("VAPID_SUBJECT") or default
    if not (subject.startswith("mailto:") and "@" in subject) and not subject.startswith("https://"):
        raise ImproperEnvironment("VAPID_SUBJECT must be a mailto: address or an https:// URL")
    return subject


class VapidSigner:
    """Authorization headers per push-service origin, signed once and reused until near expiry."""

    def __init__(self, *, private_key: str, subject: str):
        from py_vapid import Vapid02

        self._vapid = Vapid02(private_key_from(private_key))
        self._subject = subject
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, int]] = {}

    def authorization(self, audience: str) -> str:
        now = int(time.time())
        cached = self._cache.get(audience)
        if cached and cached[1] - now > TOKEN_RENEW_BEFORE_SECONDS:
            return cached[0]
        exp = now + TOKEN_LIFETIME_SECONDS
        header = self._vapid.sign({"sub": self._subject, "aud": audience, "exp": exp})["Authorization"]
        with self._lock:
            self._cache[audience] = (header, exp)
        return header
