"""`usage-pipeline collect`: the HTTP collector (producers/collect)."""

from __future__ import annotations

import logging
import os

import typer
from starlette.routing import Router

from usage_pipeline.cli.common import connect
from usage_pipeline.cli.console import FILE_FORMAT, err
from usage_pipeline.producers.collect.app import create_app
from usage_pipeline.producers.collect.server import serve
from usage_pipeline.producers.collect.tokens import TokenBook
from usage_pipeline.resolve import client_cluster
from usage_pipeline.settings import load_settings

LOG_LEVEL_ENV = "USAGE_PIPELINE_LOG_LEVEL"
APP_FACTORY = f"{__name__}:app_factory"


def app_factory() -> Router:
    """The server worker's application, configured from the environment it inherited."""
    logging.basicConfig(level=os.environ.get(LOG_LEVEL_ENV, "INFO").upper(), format=FILE_FORMAT)
    settings = load_settings()
    producer = client_cluster(settings, "producer")
    return create_app(settings.collect, producer, settings.producer, settings.topics.namespace)


def collect(
    host: str | None = typer.Option(None, "--host", help="Listen address (default: collect.host)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Listen port (default: collect.port)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=64,
        help="Collector processes sharing the port, each with its own producer "
        "(default: collect.workers).",
    ),
) -> None:
    """Take events over HTTP: batches from services, page views from browsers.

    POST /v1/events (JSON array or NDJSON, gzip allowed, bearer token per service from
    collect.tokens_file), GET /collect.js and POST /v1/pageview (cookieless page views from
    collect.site_origins), GET /healthz, /readyz and /metrics. A request is answered 200 only
    once Kafka acknowledged every accepted event; 503 with Retry-After when it cannot. Runs
    until Ctrl-C or SIGTERM. Details: docs/collect.md.
    """
    settings = load_settings()
    collect_settings = settings.collect
    tokens = TokenBook.read(collect_settings.tokens_file)  # a bad file stops us here, by line
    connect(settings)
    if not tokens:
        err.print("no service tokens (collect.tokens_file): every batch will get 401")
    if not collect_settings.site_origins:
        err.print("no site origins (collect.site_origins): every page view will get 403")
    serve(
        collect_settings,
        host or collect_settings.host,
        port or collect_settings.port,
        APP_FACTORY,
        workers,
    )
