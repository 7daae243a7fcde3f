"""VAPID keys: from the environment, or generated once into the data directory."""

from __future__ import annotations

import io
import stat

import pytest
from django.core.management import call_command

from backend.env import ImproperEnvironment
from push import checks, vapid


@pytest.fixture
def no_vapid_env(monkeypatch):
    for name in ("VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_pair_is_generated_once_into_the_data_directory(tmp_path, no_vapid_env):
    path = tmp_path / "data" / "vapid_private_key"
    public, private, generated = vapid.keys_from_env_or_file(path, generate=True)
    assert generated and path.read_text() == private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(vapid.b64url_decode(public)) == 65 and vapid.b64url_decode(public)[0] == 4
    assert len(vapid.b64url_decode(private)) == 32
    assert vapid.keys_from_env_or_file(path, generate=True) == (public, private, True)


def test_without_generation_the_keys_are_required(tmp_path, no_vapid_env):
    with pytest.raises(ImproperEnvironment, match="VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set"):
        vapid.keys_from_env_or_file(tmp_path / "k", generate=False)


def test_keys_from_the_environment_must_be_one_pair(tmp_path, no_vapid_env):
    public, private = vapid.generate_keypair()
    no_vapid_env.setenv("VAPID_PUBLIC_KEY", public)
    no_vapid_env.setenv("VAPID_PRIVATE_KEY", private)
    assert vapid.keys_from_env_or_file(tmp_path / "k", generate=True) == (public, private, False)
    assert not (tmp_path / "k").exists()
    no_vapid_env.setenv("VAPID_PUBLIC_KEY", vapid.generate_keypair()[0])
    with pytest.raises(ImproperEnvironment, match="not the public key"):
        vapid.keys_from_env_or_file(tmp_path / "k", generate=True)
    no_vapid_env.delenv("VAPID_PUBLIC_KEY")
    with pytest.raises(ImproperEnvironment, match="both"):
        vapid.keys_from_env_or_file(tmp_path / "k", generate=True)
    no_vapid_env.setenv("VAPID_PUBLIC_KEY", public)
    no_vapid_env.setenv("VAPID_PRIVATE_KEY", "short")
    with pytest.raises(ImproperEnvironment, match="32-byte"):
        vapid.keys_from_env_or_file(tmp_path / "k", generate=True)


def test_the_subject_must_be_mailto_or_https(no_vapid_env):
    assert vapid.subject_from_env("mailto:a@b.example") == "mailto:a@b.example"
    no_vapid_env.setenv("VAPID_SUBJECT", "https://peerlearn.example")
    assert vapid.subject_from_env("mailto:a@b.example") == "https://peerlearn.example"
    no_vapid_env.setenv("VAPID_SUBJECT", "ops@peerlearn.example")
    with pytest.raises(ImproperEnvironment):
        vapid.subject_from_env("mailto:a@b.example")


def test_the_management_command_prints_a_matching_pair_as_environment_lines(tmp_path, no_vapid_env):
    out = io.StringIO()
    call_command("generate_vapid_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    assert set(lines) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}
    for name, value in lines.items():
        no_vapid_env.setenv(name, value)
    public, _, generated = vapid.keys_from_env_or_file(tmp_path / "k", generate=False)
    assert public == lines["VAPID_PUBLIC_KEY"] and not generated


def test_deploy_check_warns_about_generated_keys_and_the_placeholder_subject(settings):
    settings.VAPID_KEYS_GENERATED = True
    settings.VAPID_SUBJECT = settings.VAPID_SUBJECT_DEFAULT
    assert {w.id for w in checks.vapid_configured(None)} == {"push.W001", "push.W002"}
    settings.VAPID_KEYS_GENERATED = False
    settings.VAPID_SUBJECT = "mailto:ops@peerlearn.example"
    assert checks.vapid_configured(None) == []


def test_the_signer_reuses_a_token_per_push_service_until_near_expiry():
    signer = vapid.VapidSigner(private_key=vapid.generate_keypair()[1], subject="mailto:ops@peerlearn.example")
    first = signer.authorization("https://fcm.googleapis.com")
    assert signer.authorization("https://fcm.googleapis.com") == first
    assert signer.authorization("https://updates.push.services.mozilla.com") != first
    assert first.startswith("vapid t=") and ",k=" in first


def test_settings_generate_the_pair_once_into_a_fresh_data_directory(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAPID_", "DJANGO_SETTINGS", "DATABASE_URL"))}
    env |= {"PEERLEARN_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "backend.settings", "DEBUG": "true"}
    show = "from django.conf import settings; print(settings.VAPID_PUBLIC_KEY, settings.VAPID_KEYS_GENERATED)"
    runs = [
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", show], cwd=root, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr
    first, second = (run.stdout.strip().splitlines()[-1].split() for run in runs)  # shell may print a banner
    assert first == second and first[1] == "True"
    assert (tmp_path / "vapid_private_key").exists()
