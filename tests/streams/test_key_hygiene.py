"""The pseudonymization key never leaves: not in logs, outputs, error messages, lake or database.

Every form a key could take in text is searched for: raw bytes, standard and URL-safe base64
with and without padding, and hex. A failure names the place and the form, never the key.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from tests.streams.pipeline_run import (
    REPO,
    cli,
    email_opened,
    feature_used,
    granted,
    lake_env,
    publish,
)
from usage_pipeline.schemas.topics import DEAD_LETTER, KEY_LINKS
from usage_pipeline.settings import Settings
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer, key_id_for
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.secret_key import load_pseudonymizer
from usage_pipeline.streams.supervisor import WorkerProcess

POLICY = load_policy(REPO / "config" / "anonymization.yaml")
USERS = [f"hygiene-{n}" for n in range(12)]
UNREACHABLE = "127.0.0.1:1"


def key_forms(key: bytes) -> dict[str, bytes]:
    """Every encoding of ``key`` a careless log line or error message could hold."""
    standard, url_safe = base64.b64encode(key), base64.urlsafe_b64encode(key)
    return {
        "raw": key,
        "base64": standard,
        "base64 without padding": standard.rstrip(b"="),
        "URL-safe base64": url_safe,
        "URL-safe base64 without padding": url_safe.rstrip(b"="),
        "hex": key.hex().encode(),
        "upper-case hex": key.hex().upper().encode(),
    }


def assert_no_key(data: bytes, keys: list[bytes], where: str) -> None:
    """Fail naming ``where`` and the form if any key is in ``data`` (the key is not shown)."""
    for number, key in enumerate(keys):
        for form, encoded in key_forms(key).items():
            if encoded in data:
                pytest.fail(f"key #{number} appears in {where} ({form})")


@dataclass
class Run:
    """Everything a worker, the sink and the aggregates wrote, by place."""

    keys: list[bytes]
    places: dict[str, bytes]


@pytest.fixture(scope="module")
def run(stream_env, tmp_path_factory) -> Run:
    folder = tmp_path_factory.mktemp("hygiene")
    key = stream_env.key_file.read_bytes()
    previous_file = folder / "previous.key"
    previous_file.write_bytes(secrets.token_bytes(32))
    previous = previous_file.read_bytes()
    events = [granted(u, p) for u in USERS for p in ("analytics", "marketing", "partner_sharing")]
    events += [feature_used(u) for u in USERS]
    events += [email_opened(u) for u in USERS]
    publish(stream_env.bootstrap, stream_env.namespace, events)
    producer = Producer({"bootstrap.servers": stream_env.bootstrap})
    for payload in (b"not json", orjson.dumps({**feature_used("bad"), "context": {"ip": "x"}})):
        producer.produce(stream_env.topic("raw.usage"), value=payload, key=b"bad")
    producer.flush(10)
    env = {
        **stream_env.env,
        "USAGE_PIPELINE_STREAM__PREVIOUS_KEY_FILES": orjson.dumps(
            {key_id_for(previous): str(previous_file)}
        ).decode(),
    }
    with WorkerProcess(
        stream_env.bootstrap, stream_env.group, stream_env.namespace, stream_env.log_file, env,
        cwd=REPO,
    ) as worker:  # fmt: skip
        worker.wait_until_caught_up(timeout_s=180)
    lake = folder / "lake"
    sink_env = lake_env(stream_env.bootstrap, stream_env.namespace, lake)
    places = {"worker log": stream_env.log_file.read_bytes()}
    for command in (
        ("sink", "--until-caught-up"),
        ("aggregate", "build"),
        ("aggregate", "query", "select * from usage"),
    ):
        result = cli(*command, env=sink_env)
        assert result.returncode == 0, result.stderr[-2000:]
        places[" ".join(command)] = result.stdout + result.stderr
    topics = [p.output for p in POLICY.purposes.values()] + [DEAD_LETTER.name, KEY_LINKS.name]
    for topic in topics:
        for message in stream_env.read(topic):
            headers = b"".join(k.encode() + (v or b"") for k, v in message.headers() or [])
            places[f"{topic} record"] = (
                places.get(f"{topic} record", b"")
                + (message.key() or b"")
                + (message.value() or b"")
                + headers
            )
    for path in sorted(p for p in lake.rglob("*") if p.is_file()):
        places[str(path.relative_to(folder))] = path.read_bytes()
    return Run([key, previous], places)


def test_the_run_wrote_every_kind_of_output(run):
    places = run.places
    assert "lake/aggregates.duckdb" in places
    assert any(p.endswith(".parquet") and "/clean/" in p for p in places)
    for topic in ("clean.service", "clean.analytics", "clean.marketing", "dead.letter"):
        assert places.get(f"{topic} record"), topic
    assert places.get(f"{KEY_LINKS.name} record"), "the previous key made link records"


def test_no_key_in_logs_topics_lake_or_database(run):
    for where, data in run.places.items():
        assert_no_key(data, run.keys, where)


def _key_file(tmp_path: Path, size: int = 32) -> tuple[Path, bytes]:
    path = tmp_path / f"key-{size}"
    path.write_bytes(secrets.token_bytes(size))
    return path, path.read_bytes()


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


FAILURES = {
    "bad base64": lambda key, _file, _t: {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY": _b64(key) + "*"
    },
    "key file that cannot be read": lambda key, _file, tmp: {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(tmp),
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY": _b64(key),
    },
    "key id that breaks the pattern": lambda key, file, _t: {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(file),
        "USAGE_PIPELINE_STREAM__KEY_ID": _b64(key),
    },
    "key in a misspelt variable": lambda key, _file, _t: {
        "USAGE_PIPELINE_STREAM__PSEUDONYMISATION_KEY": _b64(key)
    },
    "previous key file swapped": lambda _key, file, _t: {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY": _b64(secrets.token_bytes(32)),
        "USAGE_PIPELINE_STREAM__PREVIOUS_KEY_FILES": orjson.dumps(
            {"k00000000": str(file)}
        ).decode(),
    },
    "previous key file under an id that breaks the pattern": lambda key, file, _t: {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(file),
        "USAGE_PIPELINE_STREAM__PREVIOUS_KEY_FILES": orjson.dumps({_b64(key): str(file)}).decode(),
    },
}


@pytest.mark.parametrize("case", FAILURES)
def test_refused_start_never_shows_the_key(case, tmp_path):
    key_file, key = _key_file(tmp_path)
    env = {"KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE, **FAILURES[case](key, key_file, tmp_path)}
    result = cli("stream", env=env)
    assert result.returncode == 1
    assert b"error" in result.stderr
    assert_no_key(result.stdout + result.stderr, [key], case)


@pytest.mark.parametrize("variable", ["PSEUDONYMIZATION_KEY", "PREVIOUS_KEY_FILES"])
def test_short_key_is_refused_without_showing_it(variable, tmp_path):
    short_file, short = _key_file(tmp_path, 16)
    _, current = _key_file(tmp_path)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE,
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY": _b64(short),
    }
    if variable == "PREVIOUS_KEY_FILES":
        env["USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY"] = _b64(current)
        env["USAGE_PIPELINE_STREAM__PREVIOUS_KEY_FILES"] = orjson.dumps(
            {"kold": str(short_file)}
        ).decode()
    result = cli("stream", env=env)
    assert result.returncode == 1
    assert b"has 16 bytes; at least 32 are needed" in result.stderr
    assert_no_key(result.stdout + result.stderr, [short, current], variable)


@pytest.mark.parametrize(
    "command",
    [("stream", "--help"), ("policy", "dry-run", "--events", "-"), ("policy", "explain")],
)
def test_commands_run_with_a_key_never_show_it(command, tmp_path):
    key_file, key = _key_file(tmp_path)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE,
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file),
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY": _b64(key),
    }
    result = cli(*command, env=env, stdin=orjson.dumps(feature_used("u-dry")) + b"\n")
    assert result.returncode == 0, result.stderr
    assert_no_key(result.stdout + result.stderr, [key], " ".join(command))


def test_settings_and_pseudonymizer_never_show_the_key(tmp_path):
    _, key = _key_file(tmp_path)
    previous_file, previous = _key_file(tmp_path, 33)
    stream = StreamSettings(
        pseudonymization_key=_b64(key),
        previous_key_files={key_id_for(previous): previous_file},
    )
    settings = Settings(stream=stream)
    pseudonymizer = load_pseudonymizer(stream)
    shown = [
        repr(settings),
        str(settings),
        repr(stream),
        str(stream),
        settings.model_dump_json(),
        str(settings.model_dump()),
        repr(stream.pseudonymization_key),
        str(stream.pseudonymization_key),
        repr(pseudonymizer),
        str(pseudonymizer),
        repr(Pseudonymizer(key)),
    ]
    assert_no_key("\n".join(shown).encode(), [key, previous], "a repr or str")
    assert pseudonymizer.key_id == key_id_for(key)
    assert pseudonymizer.previous_key_ids == (key_id_for(previous),)
