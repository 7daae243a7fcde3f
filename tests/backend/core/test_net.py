from django.test import RequestFactory

from backend.core.net import client_ip


def test_direct_connection_uses_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.5")
    assert client_ip(request) == "10.0.0.5"


def test_behind_one_proxy_the_spoofed_prefix_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "203.0.113.9"
    bare = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")
    assert client_ip(bare) == "10.0.0.2"
