"""Structured logs: one line per request and per job run, Razorpay calls with their duration,
and LOG_FORMAT=json writing one JSON object per line."""

from __future__ import annotations

import json
import logging
import socket
import sys

import pytest
from django.test import override_settings

from backend.core.logging import JsonFormatter
from backend.payments import gateway
from tests.backend.core.test_settings import production_env, run_manage
from tests.conftest import Client, client_for


def _records(caplog, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


def test_json_formatter_writes_one_object_per_line_with_the_extra_fields():
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("peerlearn.test").makeRecord(
            "peerlearn.test", logging.WARNING, __file__, 1, "took %s ms", (12.5,), sys.exc_info(),
            extra={"duration_ms": 12.5, "user_id": 7},
        )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "peerlearn.test"
    assert entry["message"] == "took 12.5 ms"
    assert entry["duration_ms"] == 12.5 and entry["user_id"] == 7
    assert "ValueError: bad" in entry["exc"] and entry["ts"].endswith("+00:00")


def test_a_request_logs_method_path_status_duration_and_user(learner, caplog):
    caplog.set_level(logging.INFO, logger="peerlearn.request")
    client_for(learner).get("/dashboard/learner/")
    (line,) = _records(caplog, "peerlearn.request")
    assert (line.method, line.path, line.status, line.user_id) == ("GET", "/dashboard/learner/", 200, learner.pk)
    assert isinstance(line.duration_ms, float) and line.duration_ms > 0


def test_an_api_request_with_a_token_logs_its_user(learner, caplog):
    from rest_framework_simplejwt.tokens import AccessToken

    caplog.set_level(logging.INFO, logger="peerlearn.request")
    Client().get("/api/notifications/", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(learner)}")
    (line,) = _records(caplog, "peerlearn.request")
    assert line.path == "/api/notifications/" and line.user_id == learner.pk


def test_logging_a_public_page_costs_no_query(db, caplog, django_assert_num_queries):
    caplog.set_level(logging.INFO, logger="peerlearn.request")
    with django_assert_num_queries(0):
        Client().get("/healthz")
    # Probes are logged at DEBUG only: a load balancer polls every few seconds.
    assert [r.levelno for r in _records(caplog, "peerlearn.request")] == []
    Client().get("/no-such-page/")
    (line,) = _records(caplog, "peerlearn.request")
    assert line.status == 404 and line.user_id is None


def test_razorpay_calls_are_logged_with_their_duration(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.INFO, logger="backend.payments.gateway")
    with override_settings(RAZORPAY_BASE_URL=f"http://127.0.0.1:{port}"), pytest.raises(gateway.GatewayError):
        gateway.fetch_order("order_LOGTEST")
    (line,) = _records(caplog, "backend.payments.gateway")
    assert line.path == "/v1/orders/order_LOGTEST" and line.status is None and line.duration_ms >= 0


def test_log_format_json_writes_json_lines_and_a_bad_value_stops_start_up(tmp_path):
    say = "import logging; logging.getLogger('peerlearn.probe').warning('hello %s', 'there', extra={'k': 1})"
    env = {**production_env(tmp_path), "LOG_FORMAT": "json"}
    result = run_manage("shell", "-c", say, extra_env=env)
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stderr.splitlines() if "peerlearn.probe" in x]
    assert line["message"] == "hello there" and line["k"] == 1 and line["level"] == "WARNING"

    plain = run_manage("shell", "-c", say, extra_env={**env, "LOG_FORMAT": "plain"})
    assert "WARNING peerlearn.probe hello there" in plain.stderr

    bad = run_manage("shell", "-c", say, extra_env={**env, "LOG_FORMAT": "yaml"})
    assert bad.returncode != 0 and "LOG_FORMAT" in bad.stderr
