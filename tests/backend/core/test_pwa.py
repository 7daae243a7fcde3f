"""The installable app over HTTP: manifest, icons, service worker, offline page, sign-out header."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from PIL import Image

from backend.core import pwa
from tests.conftest import client_for


def static_file(url: str) -> str:
    assert url.startswith(settings.STATIC_URL), url
    found = finders.find(url.removeprefix(settings.STATIC_URL))
    assert found, f"{url} is not a static file"
    return found


def manifest() -> dict:
    response = client_for(None).get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    return json.loads(response.content)


def test_manifest_describes_an_installable_app():
    data = manifest()
    assert data["name"] == "PeerLearn"
    assert data["short_name"] == "PeerLearn"
    assert data["description"]
    assert data["start_url"] == "/dashboard/"
    assert data["scope"] == "/"
    assert data["display"] == "standalone"
    # The colours of app.css: brand orange and the light background.
    assert data["theme_color"] == "#FF5734"
    assert data["background_color"] == "#F7F7F5"
    assert [s["url"] for s in data["shortcuts"]] == ["/dashboard/learner/", "/dashboard/mentor/"]
    assert all(s["name"] and s["short_name"] for s in data["shortcuts"])


def test_manifest_icons_exist_with_their_declared_sizes_and_purposes():
    icons = manifest()["icons"]
    declared = {(icon["sizes"], icon["purpose"]) for icon in icons}
    assert declared == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for icon in icons:
        with Image.open(static_file(icon["src"])) as image:
            assert image.format == "PNG" and icon["type"] == "image/png"
            assert f"{image.width}x{image.height}" == icon["sizes"]
            if icon["purpose"] == "maskable":
                # Full bleed: no transparent corner, or launchers show a hole where they cut.
                assert image.convert("RGBA").getpixel((0, 0))[3] == 255


def test_maskable_icon_keeps_the_logo_inside_the_safe_zone():
    icon = next(i for i in manifest()["icons"] if i["purpose"] == "maskable")
    with Image.open(static_file(icon["src"])) as image:
        rgb = image.convert("RGB")
        background = rgb.getpixel((0, 0))
        size = rgb.width
        radius = 0.4 * size  # the safe zone is the central circle of radius 40 %
        centre = size / 2
        outside = [
            (x, y)
            for x in range(0, size, 4)
            for y in range(0, size, 4)
            if (x - centre) ** 2 + (y - centre) ** 2 > radius**2 and rgb.getpixel((x, y)) != background
        ]
        assert outside == []


def test_manifest_screenshots_are_small_pngs_of_the_declared_sizes():
    screenshots = manifest()["screenshots"]
    assert {s["form_factor"] for s in screenshots} == {"narrow", "wide"}
    for shot in screenshots:
        path = static_file(shot["src"])
        with Image.open(path) as image:
            assert f"{image.width}x{image.height}" == shot["sizes"]
        assert shot["label"]
        assert Path(path).stat().st_size < 200_000


def test_apple_touch_icon_exists():
    with Image.open(static_file(settings.PWA_APP_ICONS_APPLE[0]["src"])) as image:
        assert image.size == (180, 180)


def test_service_worker_is_served_for_the_whole_site_and_never_from_cache():
    response = client_for(None).get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    assert response["Service-Worker-Allowed"] == "/"


def sw_source() -> str:
    return client_for(None).get("/sw.js").content.decode()


def test_service_worker_precaches_existing_static_files_and_the_offline_page():
    source = sw_source()
    precache = json.loads(json.loads('"' + re.search(r'JSON\.parse\("(.*)"\)', source).group(1) + '"'))
    assert "/offline/" in precache
    static_urls = [url for url in precache if url.startswith(settings.STATIC_URL)]
    for url in static_urls:
        static_file(url)
    for needed in ("css/app.css", "js/app.js", "js/theme.js", "js/pwa.js", "icons/heroicons.svg", "img/logo.svg"):
        assert settings.STATIC_URL + needed in static_urls
    assert any(url.endswith(".woff2") for url in static_urls)
    assert "{{" not in source and "{%" not in source


def test_service_worker_version_changes_with_the_shell(settings):
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', sw_source()).group(1)
    assert re.search(r'const VERSION = "([0-9a-f]{12})"', sw_source()).group(1) == version
    settings.PWA_SW_VERSION_SALT = "next-deploy"
    assert re.search(r'const VERSION = "([0-9a-f]{12})"', sw_source()).group(1) != version


def test_service_worker_version_follows_fingerprinted_urls(monkeypatch):
    urls = pwa.precache_urls()
    before = pwa.worker_version(urls, "source")
    monkeypatch.setattr(pwa, "_fingerprint", lambda path: f"/static/{path}.0123abcd")
    assert pwa.worker_version(urls, "source") != before
    assert pwa.worker_version(urls, "other source") != pwa.worker_version(urls, "source")


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "learner", "mentor"])
def test_offline_page_renders_for_anyone(who, request):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    response = client_for(user).get("/offline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This page needs a connection" in html
    assert "data-retry" in html
    assert "csrfmiddlewaretoken" not in html  # it is precached without cookies


@pytest.mark.django_db
def test_pages_link_our_manifest_and_not_django_pwas(learner):
    html = client_for(learner).get("/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert "/manifest.json" not in html and "serviceworker.js" not in html
    assert 'name="theme-color" content="#FF5734" media="(prefers-color-scheme: light)"' in html
    assert 'media="(prefers-color-scheme: dark)"' in html
    assert 'rel="apple-touch-icon"' in html
    assert 'name="apple-mobile-web-app-capable" content="yes"' in html
    assert f'data-user-id="{learner.pk}"' in html


@pytest.mark.django_db
def test_anonymous_pages_name_no_user():
    html = client_for(None).get("/").content.decode()
    assert "data-user-id" not in html and "data-signed-in" not in html


@pytest.mark.django_db
def test_sign_out_clears_the_http_cache_but_keeps_the_service_worker(learner):
    client = client_for(learner)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache"'
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_sign_out_page_says_what_leaves_the_device(learner):
    html = client_for(learner).get("/logout/").content.decode()
    assert "removes the pages and data this device saved for offline use" in html
