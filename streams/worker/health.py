"""What a worker says about itself: Prometheus metrics and a liveness answer, over HTTP.

The loop beats once per round. ``/healthz`` answers 200 while the last beat is recent and
503 once the loop has been stuck longer than the liveness timeout; the body says what the
worker is doing. ``/metrics`` is the Prometheus text format.

A stuck loop also ends the process (``Watchdog``), so that whatever supervises it (the
`--processes` parent, docker-compose's restart policy) starts it again even where nothing
probes ``/healthz``. The case that made it necessary: librdkafka's
``send_offsets_to_transaction`` can block forever, ignoring its timeout, after the group
coordinator's broker restarts (confluentinc/librdkafka#5456, #5511, open in 2.16). A restart
is safe: the open transaction is aborted by the next instance and nothing of it was
committed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

log = logging.getLogger(__name__)

Environ = dict[str, object]
StartResponse = Callable[[str, list[tuple[str, str]]], object]


class StreamMetrics:
    """The worker's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prefix = "usage_pipeline_stream_"
        self.consumed = Counter(
            prefix + "records_consumed", "Raw records read, by topic.", ["topic"],
            registry=self.registry,
        )  # fmt: skip
        self.produced = Counter(
            prefix + "records_produced", "Records produced, by output topic.", ["topic"],
            registry=self.registry,
        )  # fmt: skip
        self.dead_letters = Counter(
            prefix + "dead_letters", "Dead letters, by stage and reason.", ["stage", "reason"],
            registry=self.registry,
        )  # fmt: skip
        self.decisions = Counter(
            prefix + "consent_decisions", "Clean records by purpose and consent decision.",
            ["purpose", "consent"], registry=self.registry,
        )  # fmt: skip
        self.transactions = Counter(
            prefix + "transactions", "Transactions, by result.", ["result"],
            registry=self.registry,
        )  # fmt: skip
        self.commit_seconds = Histogram(
            prefix + "commit_seconds", "Time to commit one transaction.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )  # fmt: skip
        self.lag = Gauge(
            prefix + "lag", "Raw records of the assigned partitions not yet read.",
            registry=self.registry,
        )  # fmt: skip
        self.late = Counter(
            prefix + "late_records", "Raw records read more than the consent grace late, "
            "applied from when read (docs/stream.md).", ["topic"], registry=self.registry,
        )  # fmt: skip
        self.held = Gauge(
            prefix + "held_records", "Events waiting for their consent partition.",
            registry=self.registry,
        )  # fmt: skip
        self.consent_subjects = Gauge(
            prefix + "consent_subjects", "Subjects with a consent state in memory.",
            registry=self.registry,
        )  # fmt: skip
        self.salt_days = Gauge(
            prefix + "visitor_salt_days", "Days whose visitor salt this worker holds.",
            registry=self.registry,
        )  # fmt: skip
        self.visitor_ids = Gauge(
            prefix + "visitor_ids_remembered", "Visitor ids remembered with their days' salts.",
            registry=self.registry,
        )  # fmt: skip


@dataclass
class Health:
    """The loop's heartbeat and what it is doing."""

    liveness_timeout_s: float
    state: str = "starting"
    assigned: int = 0
    rebuilding: int = 0
    last_beat: float = field(default_factory=time.monotonic)
    last_commit: float | None = None
    details: dict[str, object] = field(default_factory=dict)

    def beat(self) -> None:
        """The loop went round once."""
        self.last_beat = time.monotonic()

    def alive(self) -> bool:
        """Whether the loop went round recently."""
        return time.monotonic() - self.last_beat < self.liveness_timeout_s

    def report(self) -> dict[str, object]:
        """The body of ``/healthz``."""
        now = time.monotonic()
        return {
            "alive": self.alive(),
            "state": self.state,
            "assigned_partitions": self.assigned,
            "partitions_rebuilding_consent": self.rebuilding,
            "seconds_since_beat": round(now - self.last_beat, 3),
            "seconds_since_commit": None
            if self.last_commit is None
            else round(now - self.last_commit, 3),
            **self.details,
        }


class Watchdog:
    """A daemon thread that ends the process once the loop has stopped beating."""

    def __init__(self, health: Health, exit_code: int = 70) -> None:
        self._health = health
        self._exit_code = exit_code
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def start(self) -> None:
        """Watch from now on."""
        self._thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(1.0)
            if self._health.state == "running" and not self._health.alive():
                log.critical(
                    "the loop has not gone round for %g s (state: %s); exiting so that a "
                    "supervisor starts this worker again",
                    self._health.liveness_timeout_s,
                    self._health.report(),
                )
                logging.shutdown()
                os._exit(self._exit_code)


class HealthServer:
    """``/healthz`` and ``/metrics`` on a port, served from a daemon thread."""

    def __init__(self, host: str, port: int, health: Health, metrics: StreamMetrics) -> None:
        self._health = health
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._server = make_server(host, port, self._app, WSGIServer, _QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()
        log.info("health and metrics on port %d (/healthz, /metrics)", self.port)

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/healthz":
            report = self._health.report()
            status = "200 OK" if report["alive"] else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [orjson.dumps(report, option=orjson.OPT_NON_STR_KEYS)]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /healthz or /metrics\n"]


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: a health check every few seconds would flood the worker's log."""

    def log_message(self, format: str, *args: object) -> None:
        """Say nothing."""
