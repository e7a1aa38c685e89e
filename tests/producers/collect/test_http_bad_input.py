"""Bad input against a real collector process on loopback, publishing to the test broker.

No response and no log line may echo an e-mail address, an IP address (other than loopback)
or a token: every answer is kept and checked at the end, with the collector's log.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import time
import uuid

import orjson
import pytest

from tests.producers.collect.conftest import SITE, TOKEN
from usage_pipeline.audit.detectors import Detector
from usage_pipeline.broker.admin import read_topic

pytestmark = pytest.mark.kafka

LEAKY_EMAIL = "leak.me@example.org"
LEAKY_IP = "203.0.113.99"
ANSWERS: list[bytes] = []


def kept(answer):
    ANSWERS.append(orjson.dumps({"headers": answer.headers}) + answer.body)
    return answer


def events_in(collector, family: str) -> dict[str, tuple[dict, bytes, int]]:
    """event id -> (event, key, partition) of a raw topic now."""
    found = {}
    for message in read_topic(collector.bootstrap, collector.topic(f"raw.{family}")):
        event = orjson.loads(message.value())
        found[event["event_id"]] = (event, message.key(), message.partition())
    return found


def test_a_valid_batch_is_acknowledged_and_in_the_raw_topics(collector, example_event):
    batch = [example_event("usage.feature_used"), example_event("traffic.web_request")]
    answer = kept(collector.post_events(orjson.dumps(batch)))
    assert answer.status == 200
    assert answer.json() == {"accepted": 2, "rejected": []}
    assert batch[0]["event_id"] in events_in(collector, "usage")
    assert batch[1]["event_id"] in events_in(collector, "traffic")


def test_invalid_events_are_rejected_by_index_and_reason_never_by_value(collector, example_event):
    good = example_event("usage.feature_used")
    bad_email = example_event("usage.feature_used", email=f"{LEAKY_EMAIL}\r\nBcc: x@example.net")
    bad_ip = example_event("traffic.web_request")
    bad_ip["context"]["ip"] = "0" + LEAKY_IP
    answer = kept(collector.post_events(orjson.dumps([bad_email, good, "text", bad_ip])))
    assert answer.status == 200
    body = answer.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [0, 2, 3]
    assert body["rejected"][0]["reason"].startswith("subject.email:")
    assert body["rejected"][2]["reason"].startswith("context.ip:")
    assert LEAKY_EMAIL not in answer.body.decode()
    assert LEAKY_IP not in answer.body.decode()


def test_ndjson_lines_are_events_and_a_truncated_line_is_rejected_by_index(
    collector, example_event
):
    first, second = example_event("usage.feature_used"), example_event("usage.feature_used")
    body = orjson.dumps(first) + b"\n\n" + orjson.dumps(second) + b"\n" + orjson.dumps(second)[:40]
    answer = kept(collector.post_events(body, "application/x-ndjson"))
    assert answer.status == 200
    result = answer.json()
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [2]
    assert "not valid JSON" in result["rejected"][0]["reason"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'[{"event_id": "x", "subject": {"email": "leak.me@example.org"}', "not valid JSON"),
        (b"not json at all leak.me@example.org", "not valid JSON"),
        (b'{"event_id": "x", "subject": {"email": "leak.me@example.org"}}', "JSON array"),
        (b"", "not valid JSON"),
    ],
    ids=["truncated", "invalid", "object_not_array", "empty"],
)
def test_a_body_that_does_not_parse_gets_400(collector, body, reason):
    answer = kept(collector.post_events(body))
    assert answer.status == 400
    assert reason in answer.json()["error"]
    assert LEAKY_EMAIL not in answer.body.decode()


def test_a_repeated_key_in_an_array_element_rejects_that_element_only(collector, example_event):
    event = example_event("usage.feature_used")
    raw = orjson.dumps(event).replace(b'"source"', b'"source":"x","source"', 1)
    answer = kept(collector.post_events(b"[" + raw + b"," + orjson.dumps(event) + b"]"))
    assert answer.status == 200
    assert answer.json()["accepted"] == 1
    assert answer.json()["rejected"] == [{"index": 0, "reason": "source: duplicate key"}]


def test_a_body_over_the_limit_gets_413_declared_or_streamed(collector):
    big = b"[" + b" " * (65 * 1024) + b"]"
    assert kept(collector.post_events(big)).status == 413

    def chunks():
        for _ in range(70):
            yield b" " * 1024

    connection = __import__("http.client").client.HTTPConnection("127.0.0.1", collector.port)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    # The collector may answer before the body ends, as it should: the rest finds it closed.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.request(
            "POST", "/v1/events", body=chunks(), headers=headers, encode_chunked=True
        )
    response = connection.getresponse()
    assert response.status == 413
    ANSWERS.append(response.read())
    connection.close()


def test_a_gzip_bomb_is_refused_without_inflating_it(collector):
    bomb = gzip.compress(b"\x00" * (50 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    answer = kept(collector.post_events(bomb, **{"Content-Encoding": "gzip"}))
    assert answer.status == 413
    assert "decompressed" in answer.json()["error"]


def test_gzip_bodies_are_accepted_and_broken_gzip_gets_400(collector, example_event):
    event = example_event("usage.feature_used")
    packed = gzip.compress(orjson.dumps([event]))
    answer = kept(collector.post_events(packed, **{"Content-Encoding": "gzip"}))
    assert answer.json() == {"accepted": 1, "rejected": []}
    assert kept(collector.post_events(packed[:-10], **{"Content-Encoding": "gzip"})).status == 400
    assert kept(collector.post_events(b"garbage", **{"Content-Encoding": "gzip"})).status == 400


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [("text/plain", None), ("application/xml", None), ("", None), ("application/json", "br")],
)
def test_another_content_type_or_encoding_gets_415(collector, content_type, encoding):
    headers = {"Content-Encoding": encoding} if encoding else {}
    assert kept(collector.post_events(b"[]", content_type, **headers)).status == 415


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "],
)
def test_a_missing_or_wrong_token_gets_401(collector, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = kept(collector.request("POST", "/v1/events", b"[]", headers))
    assert answer.status == 401
    assert answer.headers.get("www-authenticate") == "Bearer"


def pageview(collector, url=f"{SITE}/pricing?plan=team", **headers):
    body = orjson.dumps({"url": url, "referrer": "https://search.example.net/?q=x"})
    return kept(
        collector.request("POST", "/v1/pageview", body, {"Content-Type": "text/plain", **headers})
    )


def pageviews_with(collector, url: str) -> list[dict]:
    return [e for e, _, _ in events_in(collector, "traffic").values() if e["context"]["url"] == url]


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(collector):
    url = f"{SITE}/spoof/{uuid.uuid4().hex}"
    answer = pageview(collector, url, **{"X-Forwarded-For": LEAKY_IP, "Origin": SITE})
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == SITE
    (event,) = pageviews_with(collector, url)
    assert event["context"]["ip"] == "127.0.0.1"
    assert event["context"]["host"] == "www.example.com"
    assert event["subject"] == {"account_id": "anonymous"}


def raw_request(collector, data: bytes, pause_s: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", collector.port), timeout=30) as sock:
        sock.sendall(data)
        time.sleep(pause_s)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    answer = b"".join(chunks)
    ANSWERS.append(answer)
    return answer


@pytest.mark.parametrize(
    "user_agent",
    [
        b"Mozilla/5.0\rX-Injected: 1",
        b"Mozilla/5.0\x00X-Injected: 1",
        b"Mozilla/5.0\r\n X-Injected: 1",
    ],
    ids=["bare_cr", "nul", "obs_fold"],
)
def test_header_injection_in_the_user_agent_never_reaches_an_event(collector, user_agent):
    url = f"{SITE}/ua/{uuid.uuid4().hex}"
    body = orjson.dumps({"url": url})
    request = (
        b"POST /v1/pageview HTTP/1.1\r\nHost: collector\r\nContent-Type: text/plain\r\n"
        b"User-Agent: " + user_agent + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n" + body
    )  # fmt: skip
    status = raw_request(collector, request).split(b" ", 2)[1]
    assert status in (b"204", b"400")
    for event in pageviews_with(collector, url):
        agent = event["context"].get("user_agent", "")
        assert "\r" not in agent and "\n" not in agent and "\x00" not in agent


def test_a_client_that_sends_its_headers_slowly_is_cut_off(collector):
    started = time.monotonic()
    answer = raw_request(collector, b"POST /v1/events HTTP/1.1\r\nHost: x\r\n", pause_s=0)
    assert time.monotonic() - started < 20  # header_read_timeout_s is 2 in these tests
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


def test_a_client_that_sends_its_body_slowly_gets_408(collector):
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n["
    ).encode()
    answer = raw_request(collector, head)
    assert answer.startswith(b"HTTP/1.1 408")


def test_page_views_from_other_origins_or_sites_are_refused(collector):
    assert pageview(collector, **{"Origin": "https://evil.example"}).status == 403
    assert (
        "access-control-allow-origin"
        not in pageview(collector, **{"Origin": "https://evil.example"}).headers
    )
    assert pageview(collector, url="https://other.example/x").status == 403
    preflight = kept(collector.request("OPTIONS", "/v1/pageview", None, {"Origin": SITE}))
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    refused = kept(
        collector.request("OPTIONS", "/v1/pageview", None, {"Origin": "https://evil.example"})
    )
    assert refused.status == 403


def test_gpc_on_an_identified_page_view_withdraws_partner_sharing(collector):
    url = f"{SITE}/account/{uuid.uuid4().hex}"
    user = f"usr_{uuid.uuid4().hex[:8]}"
    body = orjson.dumps({"url": url, "user_id": user})
    answer = kept(
        collector.request(
            "POST", "/v1/pageview", body, {"Content-Type": "text/plain", "Sec-GPC": "1"}
        )
    )
    assert answer.status == 204
    consent = [
        e
        for e, _, _ in events_in(collector, "consent").values()
        if e["subject"].get("user_id") == user
    ]
    assert [
        (c["properties"]["purpose"], c["properties"]["status"], c["properties"]["source"])
        for c in consent
    ] == [("partner_sharing", "withdrawn", "global_privacy_control")]
    anonymous = orjson.dumps({"url": url})
    kept(
        collector.request(
            "POST", "/v1/pageview", anonymous, {"Content-Type": "text/plain", "Sec-GPC": "1"}
        )
    )
    assert (
        len(
            [
                e
                for e, _, _ in events_in(collector, "consent").values()
                if e["subject"].get("user_id") == user
            ]
        )
        == 1
    )


def test_health_readiness_script_and_metrics(collector):
    assert kept(collector.request("GET", "/healthz")).status == 200
    assert kept(collector.request("GET", "/readyz")).json()["status"] == "ready"
    script = kept(collector.request("GET", "/collect.js"))
    assert script.status == 200 and len(script.body) < 600 and b"sendBeacon" in script.body
    metrics = kept(collector.request("GET", "/metrics")).body.decode()
    assert 'collect_requests_total{route="events",status="200"}' in metrics
    assert (
        'collect_events_rejected_total{event_type="usage.feature_used",reason="subject"}' in metrics
    )
    assert "collect_producer_queue_depth" in metrics
    assert "collect_publish_latency_seconds_bucket" in metrics


def test_one_address_sending_too_many_page_views_gets_429(collector):
    statuses = [pageview(collector).status for _ in range(40)]
    assert 429 in statuses
    limited = pageview(collector)
    assert limited.status == 429 and int(limited.headers["retry-after"]) >= 1


def test_no_answer_and_no_log_line_holds_an_address_or_a_token(collector):
    detector = Detector()
    texts = [answer.decode(errors="replace") for answer in ANSWERS]
    log = collector.log()
    assert len(texts) > 30
    for text in [*texts, log]:
        assert TOKEN not in text
        assert LEAKY_EMAIL not in text and LEAKY_IP not in text
        assert detector.detect(text) == [], text[:200]
    assert "wrong-token" not in log
