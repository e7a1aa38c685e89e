"""A real headless Chromium loads a page with collect.js; its page view reaches clean.traffic
through the real stream worker, without the IP, with a generalised user agent and no query."""

from __future__ import annotations

import http.server
import json
import secrets
import subprocess
import threading
import time

import orjson
import pytest

from tests.aggregates.test_report_chromium import FLAGS, chromium  # noqa: F401 (a fixture)
from tests.conftest import free_port
from tests.producers.collect.conftest import REPO, start_collector, stop_collector
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.schemas.topics import TopicSettings
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.supervisor import WorkerProcess
from usage_pipeline.streams.topics import ensure_stream_topics

pytestmark = pytest.mark.kafka


def test_a_browser_page_view_reaches_clean_traffic_anonymized(chromium, kafka_bootstrap, tmp_path):  # noqa: F811
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    collector = start_collector(
        kafka_bootstrap, tmp_path, {"USAGE_PIPELINE_COLLECT__SITE_ORIGINS": json.dumps([origin])}
    )
    namespace = collector.namespace
    topics = TopicSettings(namespace=namespace, partitions=3)
    ensure_stream_topics(kafka_bootstrap, load_policy(REPO / "config/anonymization.yaml"), topics)
    page_dir = tmp_path / "site"
    page_dir.mkdir()
    page = page_dir / "page.html"
    page.write_text(
        "<!doctype html><title>t</title><p>hello</p>"
        f'<script src="http://127.0.0.1:{collector.port}/collect.js"></script>'
    )
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", page_port),
        lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(page_dir)),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"{origin}/page.html?email=leak.me%40example.org&utm_source=test"
        subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
            capture_output=True, timeout=120, check=True, cwd=tmp_path,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        views = []
        while not views:
            assert time.monotonic() < deadline, collector.log()[-2000:]
            time.sleep(0.5)
            views = [
                orjson.loads(m.value())
                for m in read_topic(kafka_bootstrap, namespace + "raw.traffic")
            ]
        (view,) = views
        assert view["context"]["url"] == url
        assert view["context"]["host"] == "127.0.0.1"
        assert "Chrome" in view["context"]["user_agent"]

        key = tmp_path / "pseudonymization.key"
        key.write_bytes(secrets.token_bytes(32))
        env = {
            "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
            "USAGE_PIPELINE_TOPICS__PARTITIONS": "3",
            "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key),
            "USAGE_PIPELINE_STREAM__BATCH_WITHIN_S": "0.2",
        }
        group = namespace + StreamSettings().app_id
        with WorkerProcess(
            kafka_bootstrap, group, namespace, tmp_path / "worker.log", env, cwd=REPO
        ) as worker:
            worker.wait_until_caught_up(timeout_s=300)
        (clean,) = [
            orjson.loads(m.value())
            for m in read_topic(kafka_bootstrap, namespace + "clean.traffic")
            if orjson.loads(m.value())["event_id"] == view["event_id"]
        ]
    finally:
        server.shutdown()
        stop_collector(collector)
    # The visitor's IP is gone, replaced by a daily visitor id (the site's host, also
    # 127.0.0.1 here, is kept, and in the URL the stream redacts it).
    assert "ip" not in clean["context"] and clean["context"]["visitor_id"]
    text = orjson.dumps({**clean, "context": {**clean["context"], "host": ""}}).decode()
    assert "127.0.0.1" not in text
    assert "leak.me" not in text and "email=" not in text
    assert "utm_source=test" in text  # the policy keeps campaign parameters only
    assert "?email" not in clean["context"]["url"]
    agent = clean["context"]["user_agent"]
    assert isinstance(agent, dict) and "Chrome" in json.dumps(agent)
    assert "Mozilla/5.0" not in text
