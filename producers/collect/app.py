"""The collector's routes (Starlette): batches from services, page views from browsers,
health, readiness and metrics.

Every route answers only once Kafka acknowledged what it accepted (acks=all), or with a 503
and Retry-After. No response and no log line carries a request's values: reasons name
fields, rejections name indexes, and unexpected errors are logged by type only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, Router

from usage_pipeline.broker.admin import admin_client
from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.broker.security import Cluster
from usage_pipeline.producers.collect.acks import Acknowledgements, KafkaLink
from usage_pipeline.producers.collect.body import (
    BodyError,
    check_batch_type,
    check_declared_length,
    decode_batch,
    decode_content,
    media_type,
)
from usage_pipeline.producers.collect.client_ip import Network, client_ip, networks
from usage_pipeline.producers.collect.config import CollectSettings
from usage_pipeline.producers.collect.metrics import CONTENT_TYPE, CollectMetrics
from usage_pipeline.producers.collect.pageview import (
    MAX_BEACON_BYTES,
    BeaconError,
    clean_user_agent,
    gpc_withdrawal,
    page_view,
    parse_beacon,
)
from usage_pipeline.producers.collect.ratelimit import RateLimiter
from usage_pipeline.producers.collect.tokens import TokenBook
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.schemas.contracts import ContractViolation
from usage_pipeline.schemas.topics import raw_topic

log = logging.getLogger(__name__)

BEACON_TYPES = ("text/plain", "application/json")  # sendBeacon sends a string as text/plain
SCRIPT_MAX_AGE_S = 3600
PREFLIGHT_MAX_AGE_S = 86400
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Collector:
    """Everything the routes share."""

    settings: CollectSettings
    publisher: EventPublisher
    link: KafkaLink
    tokens: TokenBook
    trusted: tuple[Network, ...]
    limiter: RateLimiter
    metrics: CollectMetrics
    origins: frozenset[str]
    script: bytes


class Refusal(Exception):  # noqa: N818 (a response, not an error of ours)
    """A request answered with an error status; ``reason`` never quotes the request."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def create_app(
    collect: CollectSettings, cluster: Cluster, producer: ProducerSettings, namespace: str = ""
) -> Router:
    """The ASGI application, publishing to ``cluster`` as the producer.

    A bare Starlette ``Router``: every route turns its own errors into responses
    (``_guarded``), so Starlette's two exception middlewares would only add cost per request.
    """
    publisher = EventPublisher(
        cluster,
        producer.model_copy(
            update={
                "linger_ms": collect.linger_ms,
                "delivery_timeout_ms": max(1000, int(collect.ack_timeout_s * 1000)),
            }
        ),
        client_id="usage-pipeline-collect",
        namespace=namespace,
        report_every_delivery=True,  # a 200 waits for every event's acknowledgement
    )
    admin = admin_client(cluster)
    probe_topic = raw_topic("traffic", namespace)
    link = KafkaLink(publisher, lambda: admin.list_topics(probe_topic, timeout=1.0))
    collector = Collector(
        settings=collect,
        publisher=publisher,
        link=link,
        tokens=TokenBook.read(collect.tokens_file),
        trusted=networks(collect.trusted_proxies),
        limiter=RateLimiter(
            collect.pageviews_per_s_per_ip, collect.pageview_burst, collect.rate_limit_max_ips
        ),
        metrics=CollectMetrics(publisher.contracts.event_types, lambda: publisher.queued),
        origins=frozenset(collect.site_origins),
        script=files("usage_pipeline.producers.collect").joinpath("collect.js").read_bytes(),
    )

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        link.start()
        log.info(
            "collector ready: %d service token(s), %d site origin(s)",
            len(collector.tokens),
            len(collector.origins),
        )
        yield
        left = await link.stop(collect.ack_timeout_s)
        log.info("collector stopped; %d event(s) left unacknowledged", left)

    def route(
        path: str, name: str, handler: Callable[..., Awaitable[Response]], methods: list[str]
    ) -> Route:
        return Route(path, _guarded(name, collector, handler), methods=methods)

    return Router(
        routes=[
            route("/v1/events", "events", post_events, ["POST"]),
            route("/v1/pageview", "pageview", post_pageview, ["POST"]),
            route("/v1/pageview", "pageview_preflight", preflight, ["OPTIONS"]),
            route("/collect.js", "script", get_script, ["GET", "HEAD"]),
            route("/healthz", "healthz", healthz, ["GET"]),
            route("/readyz", "readyz", readyz, ["GET"]),
            route("/metrics", "metrics", get_metrics, ["GET"]),
        ],
        lifespan=lifespan,
    )


def _guarded(
    name: str, collector: Collector, handler: Callable[[Request, Collector], Awaitable[Response]]
) -> Handler:
    """The route with refusals turned into JSON errors, counted by status, nothing leaked."""

    async def endpoint(request: Request) -> Response:
        try:
            response = await handler(request, collector)
        except Refusal as refusal:
            response = _error(refusal.status, refusal.reason, refusal.headers)
        except (BodyError, BeaconError) as error:
            response = _error(error.status, error.reason)
        except ClientDisconnect:
            response = Response(status_code=499)
        except Exception as exc:  # the type only: a message could hold data
            log.error("%s failed: %s", name, type(exc).__name__)
            response = _error(500, "internal error")
        collector.metrics.count_request(name, response.status_code)
        return response

    return endpoint


async def post_events(request: Request, collector: Collector) -> Response:
    """A batch of events from a service: each valid one published, each invalid one named."""
    if collector.tokens.service(request.headers.get("authorization")) is None:
        raise Refusal(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    kind = check_batch_type(request.headers.get("content-type"))
    limit = collector.settings.max_body_bytes
    body = await _read_body(request, limit, collector.settings.body_read_timeout_s)
    body = decode_content(body, request.headers.get("content-encoding"), limit)
    items = decode_batch(body, kind, collector.publisher.contracts)
    _check_capacity(collector, len(items))
    metrics = collector.metrics
    acks = Acknowledgements(asyncio.get_running_loop())
    # Counted before producing: no report can then complete the request early.
    acks.expect(len(items))
    outcome = collector.publisher.publish_batch(items, on_delivery=acks)
    acks.forget(len(outcome.rejected))
    await _acknowledged(collector, acks)
    metrics.count_accepted(outcome.queued)  # validated: every type is a known one
    metrics.count_rejected(
        Counter(
            (metrics.event_type(_get(items[index], "event_type")), metrics.reason(found.field))
            for index, found in outcome.rejected
        )
    )
    rejected = [{"index": index, "reason": str(found)} for index, found in outcome.rejected]
    return _json(200, {"accepted": acks.published, "rejected": rejected})


async def post_pageview(request: Request, collector: Collector) -> Response:
    """A page view from ``collect.js``: built from the beacon and the request, then published."""
    origin = _allowed_origin(request, collector)
    cors = _cors(origin)
    if media_type(request.headers.get("content-type")) not in BEACON_TYPES:
        raise Refusal(415, "Content-Type must be text/plain or application/json", cors)
    body = await _read_body(request, MAX_BEACON_BYTES, collector.settings.body_read_timeout_s)
    beacon = parse_beacon(body)
    if beacon.origin not in collector.origins:
        raise Refusal(403, "url: the page is not on a configured site", cors)
    peer = request.client.host if request.client else None
    ip = client_ip(peer, request.headers.getlist("x-forwarded-for"), collector.trusted)
    if not collector.limiter.allow(ip):
        retry = str(collector.limiter.retry_after_s())
        raise Refusal(429, "too many page views from this address", {**cors, "Retry-After": retry})
    user_agent = clean_user_agent(request.headers.get("user-agent"))
    view = page_view(beacon, ip, user_agent, collector.settings.source, dt.datetime.now(dt.UTC))
    events = [view]
    if request.headers.get("sec-gpc", "").strip() == "1":
        withdrawal = gpc_withdrawal(view)
        if withdrawal is not None:
            events.append(withdrawal)
    _check_capacity(collector, len(events))
    acks = Acknowledgements(asyncio.get_running_loop())
    for event in events:
        acks.expect()
        try:
            collector.publisher.publish(event, on_delivery=acks)
        except ContractViolation as violation:
            acks.forget()
            await acks.wait(collector.settings.ack_timeout_s)
            raise Refusal(400, str(violation), cors) from None
    await _acknowledged(collector, acks, cors)
    collector.metrics.count_accepted(Counter(e["event_type"] for e in events))
    return Response(status_code=204, headers=cors)


async def preflight(request: Request, collector: Collector) -> Response:
    """CORS preflight of a page view: allowed for the configured site origins only."""
    origin = _allowed_origin(request, collector)
    if origin is None:
        raise Refusal(403, "the Origin header is required")
    headers = {
        **_cors(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
    }
    return Response(status_code=204, headers=headers)


async def get_script(_request: Request, collector: Collector) -> Response:
    """The page-view script, a few hundred bytes, cacheable."""
    return Response(
        collector.script,
        media_type="application/javascript",
        headers={"Cache-Control": f"public, max-age={SCRIPT_MAX_AGE_S}"},
    )


async def healthz(_request: Request, _collector: Collector) -> Response:
    """The process is alive and serving."""
    return _json(200, {"status": "ok"})


async def readyz(_request: Request, collector: Collector) -> Response:
    """Ready when Kafka answers and the producer's queue has room."""
    if not collector.link.reachable:
        return _json(503, {"status": "unavailable", "reason": "Kafka does not answer"})
    if collector.publisher.queued >= collector.publisher.settings.queue_max_messages:
        return _json(503, {"status": "unavailable", "reason": "the producer queue is full"})
    return _json(200, {"status": "ready", "queued": collector.publisher.queued})


async def get_metrics(_request: Request, collector: Collector) -> Response:
    """Prometheus text exposition."""
    return Response(collector.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The raw body, refused past ``limit`` bytes (413) or ``timeout_s`` seconds (408)."""
    check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyError(413, f"the body is over the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise Refusal(408, f"the body took longer than {timeout_s:g} s", _CLOSE) from None
    return b"".join(chunks)


def _check_capacity(collector: Collector, count: int) -> None:
    """503 at once when Kafka is known to be unreachable or the queue has no room."""
    publisher = collector.publisher
    if not collector.link.reachable:
        raise Refusal(503, "Kafka cannot take events now", _retry(collector))
    if publisher.queued + count > publisher.settings.queue_max_messages:
        raise Refusal(503, "the producer queue is full", _retry(collector))


async def _acknowledged(
    collector: Collector, acks: Acknowledgements, headers: Mapping[str, str] | None = None
) -> None:
    """Wait for Kafka's acknowledgement of every published event, else 503."""
    collector.link.wake()
    with collector.metrics.publish_latency.time():
        ok = await acks.wait(collector.settings.ack_timeout_s)
    if not ok:
        collector.link.unreachable()
        log.warning("Kafka did not acknowledge a request's events; answered 503")
        raise Refusal(
            503,
            "Kafka did not acknowledge every event; retry the request (event ids make it safe)",
            {**(headers or {}), **_retry(collector)},
        )


def _allowed_origin(request: Request, collector: Collector) -> str | None:
    """The request's Origin if configured; 403 for any other origin; None when absent."""
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if origin.lower() not in collector.origins:
        raise Refusal(403, "this origin may not send page views")
    return origin


def _cors(origin: str | None) -> dict[str, str]:
    return {} if origin is None else {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _retry(collector: Collector) -> dict[str, str]:
    return {"Retry-After": str(collector.settings.retry_after_s)}


def _get(event: object, name: str) -> object:
    return event.get(name) if isinstance(event, dict) else None


_CLOSE = {"Connection": "close"}


def _error(status: int, reason: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json(status, {"error": reason}, headers)


def _json(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
