"""Run the collector on granian, a Rust HTTP server for Python's ASGI applications.

Chosen over uvicorn by measurement (docs/collect.md, bench/collect.py): more requests per
second on one core for the same Starlette app, and a header read timeout, which uvicorn lacks
(a client that sends its headers byte by byte would hold a uvicorn connection forever).
Access logs stay off: they would write every client's IP address.
"""

from __future__ import annotations

import multiprocessing

from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.server import Server

from usage_pipeline.producers.collect.config import CollectSettings


def serve(
    settings: CollectSettings, host: str, port: int, app_factory: str, workers: int | None = None
) -> None:
    """Serve until SIGINT or SIGTERM; in-flight requests finish and the producer flushes.

    ``app_factory`` (``module:function``) builds the application in each worker process
    (``workers``, default ``collect.workers``), from the environment it inherited.
    """
    # librdkafka is not fork-safe: the worker starts fresh instead of inheriting our clients.
    multiprocessing.set_start_method("spawn", force=True)
    Server(
        app_factory,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers or settings.workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_read_timeout_s * 1000), keep_alive=True
        ),
        log_access=False,
    ).serve()
