"""The installable app's doors: the web app manifest, the service worker and the offline page.

The manifest is django-pwa's, rendered from the PWA_* settings; we only serve it under its
standard name and media type. The service worker is our hand-written pwa/sw.js, rendered as a
template so its precache list names this deploy's real static URLs (fingerprinted by the
manifest storage in production) and its VERSION changes whenever any of those files does.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.template import engines
from django.templatetags.static import static
from django.views.decorators.http import require_GET
from pwa.views import manifest as django_pwa_manifest  # django-pwa, not our pwa/ folder

from backend.core.access import Rule, page

# Every page loads these (base.html and app.css name them through static()).
SHELL_STATIC = [
    "css/app.css",
    "js/theme.js",
    "js/app.js",
    "fonts/inter-latin-400-normal.woff2",
    "fonts/inter-latin-500-normal.woff2",
    "fonts/inter-latin-600-normal.woff2",
    "fonts/inter-latin-700-normal.woff2",
    "fonts/poppins-latin-600-normal.woff2",
    "fonts/poppins-latin-700-normal.woff2",
    "icons/heroicons.svg",
    "img/logo.svg",
    # The offline store: classic scripts base.html loads for signed-in users, which the worker
    # also runs (importScripts) to replay the outbox when no page is open.
    "vendor/idb/idb.umd.js",
    "js/sync-engine.js",
    # Modules dashboard pages load by their static() name: the bell (every dashboard page) and
    # the profile page's push switch.
    "js/notifications.js",
    "js/push-settings.js",
]
SYNC_SCRIPTS = ["vendor/idb/idb.umd.js", "js/sync-engine.js"]
# ES modules app.js imports by a relative specifier. The manifest storage does not rewrite JS
# imports, so the browser asks for their plain names even in production; list every such module
# here, or it is neither precached nor part of VERSION.
SHELL_MODULES = [
    "js/pwa.js",
    "js/live.js",
    "js/offline.js",
    "js/offline-views.js",
    "js/dom.js",
]
SHELL_PAGES = ["/offline/"]


def _fingerprint(path: str) -> str:
    """The manifest storage's hashed URL where there is one; the content hash otherwise
    (development and tests serve plain names, whose content can change under them)."""
    url = static(path)
    if url != settings.STATIC_URL + path:
        return url
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(f"static file {path} is missing")
    return _content_hash(Path(found))


def _content_hash(path: Path) -> str:
    stat = path.stat()
    return _hash_file(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _hash_file(path: str, mtime_ns: int, size: int) -> str:  # keyed on mtime and size: re-read on change
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def precache_urls() -> list[str]:
    return (
        [static(path) for path in SHELL_STATIC]
        + [settings.STATIC_URL + path for path in SHELL_MODULES]
        + list(SHELL_PAGES)
    )


def worker_version(urls: list[str], source: str) -> str:
    """Changes when the shell's files, the worker's own code, or the salt change, so a deploy
    with new assets installs a new worker (and new caches) and the old caches are dropped."""
    parts = {
        "urls": urls,
        "files": [_fingerprint(path) for path in SHELL_STATIC + SHELL_MODULES],
        "source": hashlib.sha256(source.encode()).hexdigest(),
        "salt": settings.PWA_SW_VERSION_SALT,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def render_service_worker() -> str:
    source = Path(settings.PWA_SERVICE_WORKER_PATH).read_text(encoding="utf-8")
    urls = precache_urls()
    context = {
        "version": worker_version(urls, source),
        "precache_json": json.dumps(urls),
        "sync_scripts_json": json.dumps([static(path) for path in SYNC_SCRIPTS]),
    }
    return engines["django"].from_string(source).render(context)


@page(Rule.PUBLIC)
@require_GET
def service_worker(request):
    response = HttpResponse(render_service_worker(), content_type="text/javascript; charset=utf-8")
    # The browser looks for a new worker on navigations; no-cache makes every look reach us.
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@page(Rule.PUBLIC)
@require_GET
def manifest(request):
    response = django_pwa_manifest(request)
    response["Content-Type"] = "application/manifest+json"
    response["Cache-Control"] = "no-cache"
    return response


@page(Rule.PUBLIC)
@require_GET
def offline(request):
    """What the worker shows for a page that is not saved on this device while offline. It is
    precached without cookies, so it must not depend on who is signed in."""
    return render(request, "pwa/offline.html")
