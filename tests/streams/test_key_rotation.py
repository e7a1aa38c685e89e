"""Key rotation, as docs/keys.md tells operators to do it, on the real broker and lake.

Three phases run one after the other on one namespace: the worker under key A; the worker
under key B holding A as its previous key; the worker under key B alone. The sink writes the
lake after each phase, and the aggregates are built over the mixed lake at the end.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from tests.streams.pipeline_run import REPO, cli, feature_used, granted, lake_env, publish
from usage_pipeline.schemas.topics import KEY_LINKS
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer, key_id_for
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.key_links import KeyLink
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.secret_key import PseudonymizationKeyError, load_pseudonymizer
from usage_pipeline.streams.supervisor import WorkerProcess

POLICY = load_policy(REPO / "config" / "anonymization.yaml")
USERS = [f"u-{n:02}" for n in range(12)]
NEW_USER = "u-new"
PHASES = ("key A", "keys B and previous A", "key B alone")
PSEUDONYM = re.compile(r"[A-Za-z0-9_-]{1,32}:[0-9a-f]{32}")


@dataclass
class Phase:
    """What one phase published and what the clean topics got from it."""

    event_ids: dict[str, str]  # event id -> user
    records: dict[str, list[dict]]  # purpose -> clean records of this phase's events
    raw: list[bytes]  # every clean record value of this phase, as produced


@dataclass
class Rotation:
    key_a: str
    key_b: str
    phases: list[Phase]
    links: list[KeyLink]
    links_raw: list[bytes]
    worker_log: str
    lake: Path
    env: dict[str, str]

    def pseudonyms(self, phase: int, purpose: str) -> dict[str, str]:
        """User -> the user_id pseudonym of ``purpose`` in ``phase``."""
        events = self.phases[phase].event_ids
        return {
            events[r["event_id"]]: r["subject"]["user_id"]
            for r in self.phases[phase].records[purpose]
        }


def _key_links(stream_env) -> list[KeyLink]:
    """Every distinct link record in the namespace's links topic, sorted."""
    values = (record.value() for record in stream_env.read(KEY_LINKS.name))
    links = {KeyLink(**orjson.loads(value)) for value in values if value}
    return sorted(links, key=lambda link: (link.purpose, link.kind, link.previous))


def _write_key(path: Path) -> str:
    """Step 1 of docs/keys.md: 32 random bytes in a file; returns the key's id."""
    path.write_bytes(secrets.token_bytes(32))
    path.chmod(0o600)
    return key_id_for(path.read_bytes())


def _run_phase(stream_env, env: dict[str, str], events: list[dict]) -> Phase:
    publish(stream_env.bootstrap, stream_env.namespace, events)
    worker = WorkerProcess(
        stream_env.bootstrap, stream_env.group, stream_env.namespace, stream_env.log_file,
        {**stream_env.env, **env}, cwd=REPO,
    )  # fmt: skip
    with worker:
        worker.wait_until_caught_up(timeout_s=180)
    ids = {e["event_id"]: e["subject"]["user_id"] for e in events}
    records: dict[str, list[dict]] = {}
    raw: list[bytes] = []
    for name, purpose in POLICY.purposes.items():
        values = [m.value() for m in stream_env.read(purpose.output)]
        # At least once: a restarted worker may write an event twice; the lake keeps it once.
        mine = [v for v in values if orjson.loads(v)["event_id"] in ids]
        raw += mine
        records[name] = [orjson.loads(v) for v in mine]
    return Phase(ids, records, raw)


@pytest.fixture(scope="module")
def rotation(stream_env, tmp_path_factory) -> Rotation:
    folder = tmp_path_factory.mktemp("rotation")
    lake = folder / "lake"
    sink_env = lake_env(stream_env.bootstrap, stream_env.namespace, lake)
    key_a, key_b = folder / "a.key", folder / "b.key"
    id_a = _write_key(key_a)
    phases = []
    first = [granted(u, "analytics") for u in USERS] + [feature_used(u) for u in USERS]
    phases.append(
        _run_phase(
            stream_env, {"USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_a)}, first
        )
    )
    assert cli("sink", "--until-caught-up", env=sink_env).returncode == 0
    # Step 2: the new key, with the old one as previous, until every link purpose's subjects
    # have been seen (here: one event each).
    id_b = _write_key(key_b)
    deploy = {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_b),
        "USAGE_PIPELINE_STREAM__PREVIOUS_KEY_FILES": orjson.dumps({id_a: str(key_a)}).decode(),
    }
    phases.append(_run_phase(stream_env, deploy, [feature_used(u) for u in USERS]))
    links_after_deploy = _key_links(stream_env)
    # Step 3: drop the previous key: the setting goes, the file is destroyed.
    key_a.unlink()
    alone = {"USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_b)}
    phases.append(_run_phase(stream_env, alone, [feature_used(u) for u in [*USERS, NEW_USER]]))
    assert cli("sink", "--until-caught-up", env=sink_env).returncode == 0
    links_raw = [m.value() for m in stream_env.read(KEY_LINKS.name)]
    assert _key_links(stream_env) == links_after_deploy
    return Rotation(
        id_a, id_b, phases, links_after_deploy, links_raw,
        stream_env.log_file.read_text(errors="replace"), lake, sink_env,
    )  # fmt: skip


def test_new_key_gives_every_pseudonym_the_new_key_id(rotation):
    assert rotation.key_a != rotation.key_b
    log = " ".join(rotation.worker_log.split())  # the console wraps long lines
    assert f"key id {rotation.key_a}" in log
    assert f"key id {rotation.key_b}" in log
    for number, phase in enumerate(rotation.phases):
        key_id = rotation.key_a if number == 0 else rotation.key_b
        assert {r["event_id"] for r in phase.records["service"]} == set(phase.event_ids)
        for purpose, records in phase.records.items():
            for record in records:
                assert record["key_id"] == key_id
                for pseudonym in _pseudonyms(record):
                    assert pseudonym.startswith(key_id + ":"), (PHASES[number], purpose)


def test_previous_key_never_makes_a_pseudonym_of_an_output(rotation):
    for phase in rotation.phases[1:]:
        assert not any(f'"{rotation.key_a}:'.encode() in value for value in phase.raw)


def test_link_records_join_old_and_new_service_pseudonyms_of_the_same_subject(rotation):
    old, new = rotation.pseudonyms(0, "service"), rotation.pseudonyms(1, "service")
    assert set(old) == set(new) == set(USERS)
    user_links = {(x.previous, x.current) for x in rotation.links if x.kind == "user_id"}
    assert user_links == {(old[u], new[u]) for u in USERS}
    sessions = {x for x in rotation.links if x.kind == "session_id"}
    assert len(sessions) == len(USERS)
    assert {x.purpose for x in rotation.links} == {"service"}


def test_unlink_purposes_get_no_link_and_no_way_from_old_to_new(rotation):
    linked = {p.name for p in POLICY.purposes.values() if p.key_rotation == "link"}
    assert linked == {"service"}
    old, new = rotation.pseudonyms(0, "analytics"), rotation.pseudonyms(1, "analytics")
    assert set(old) == set(new) == set(USERS)
    everything_linked = b"".join(rotation.links_raw)
    for user in USERS:
        assert old[user] != new[user]
        assert old[user].encode() not in everything_linked
        assert new[user].encode() not in everything_linked
    # The analytics hex under B is not derivable from the service link either.
    service_new = rotation.pseudonyms(1, "service")
    assert not set(service_new.values()) & set(new.values())


def test_dropping_the_previous_key_ends_linking(rotation):
    new_user_service = rotation.pseudonyms(2, "service")[NEW_USER]
    assert all(x.current != new_user_service for x in rotation.links)
    assert (
        rotation.pseudonyms(2, "service")[USERS[0]] == rotation.pseudonyms(1, "service")[USERS[0]]
    )


def test_lake_mixing_two_key_ids_reads_with_one_schema_and_aggregates(rotation):
    files = sorted((rotation.lake / "clean").rglob("*.parquet"))
    by_purpose: dict[str, set] = {}
    for file in files:
        purpose = file.relative_to(rotation.lake / "clean").parts[0]
        by_purpose.setdefault(purpose, set()).add(pq.read_schema(file).remove_metadata())
    assert all(len(schemas) == 1 for schemas in by_purpose.values()), "same schema under A and B"
    glob = str(rotation.lake / "clean" / "service" / "**" / "*.parquet")
    counts = dict(
        duckdb.sql(
            f"select key_id, count(*) from read_parquet('{glob}', hive_partitioning = true, "
            "union_by_name = true) group by key_id"
        ).fetchall()
    )
    assert counts == {rotation.key_a: 2 * len(USERS), rotation.key_b: 2 * len(USERS) + 1}
    assert cli("aggregate", "build", env=rotation.env).returncode == 0
    result = cli(
        "aggregate", "query", "select count(*) as n from usage", "-f", "json",
        "-o", str(rotation.lake / "q.json"), env=rotation.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (rotation.lake / "q.json").read_bytes()


def test_previous_keys_shorter_than_32_bytes_are_refused(tmp_path):
    current, short = tmp_path / "current.key", tmp_path / "short.key"
    current.write_bytes(secrets.token_bytes(32))
    short.write_bytes(secrets.token_bytes(31))
    settings = StreamSettings(pseudonymization_key_file=current, previous_key_files={"kold": short})
    with pytest.raises(PseudonymizationKeyError, match="previous key kold has 31 bytes"):
        load_pseudonymizer(settings)


def test_previous_key_file_that_holds_another_key_than_its_id_is_refused(tmp_path):
    current, other = tmp_path / "current.key", tmp_path / "other.key"
    current.write_bytes(secrets.token_bytes(32))
    other.write_bytes(secrets.token_bytes(32))
    settings = StreamSettings(
        pseudonymization_key_file=current, previous_key_files={"k00000000": other}
    )
    with pytest.raises(PseudonymizationKeyError, match="not k00000000"):
        load_pseudonymizer(settings)


def test_the_current_key_cannot_also_be_a_previous_key(tmp_path):
    current = tmp_path / "current.key"
    current.write_bytes(secrets.token_bytes(32))
    settings = StreamSettings(
        pseudonymization_key_file=current,
        previous_key_files={key_id_for(current.read_bytes()): current},
    )
    with pytest.raises(PseudonymizationKeyError, match="current key"):
        load_pseudonymizer(settings)


def test_without_a_previous_key_no_purpose_links():
    anonymizer = Anonymizer(POLICY, Pseudonymizer(secrets.token_bytes(32)))
    plan = POLICY.plan("usage.feature_used", "service", POLICY.consent_states("service")[0])
    assert anonymizer.links(feature_used("u-1"), plan) == []


def _pseudonyms(value: object) -> list[str]:
    """Every string in a record that looks like ``key id:32 hex``."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _pseudonyms(v)]
    return [value] if isinstance(value, str) and PSEUDONYM.fullmatch(value) else []


def test_a_pseudonymizer_with_a_previous_key_pseudonymizes_with_the_current_key_only():
    old = Pseudonymizer(secrets.token_bytes(32))
    new = Pseudonymizer(secrets.token_bytes(32), previous=[old])
    pseudonym = new.pseudonymize("u-1", "service/user_id")
    assert pseudonym.startswith(new.key_id + ":")
    assert pseudonym != old.pseudonymize("u-1", "service/user_id")
    assert new.previous_pseudonyms("u-1", "service/user_id") == (
        old.pseudonymize("u-1", "service/user_id"),
    )


def test_two_keys_under_one_key_id_are_refused():
    old = Pseudonymizer(secrets.token_bytes(32), "same")
    with pytest.raises(ValueError, match="its own key id"):
        Pseudonymizer(secrets.token_bytes(32), "same", previous=[old])
