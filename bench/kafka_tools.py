"""Kafka's own tools (ProducerPerformance, ConsumerPerformance, the console producer): resolved
once, run, parsed.

The jars come from Maven Central through ``bench/kafka-tools/pom.xml`` at the version the
broker's pom pins, into their own folder of the broker's jar cache (kafka-tools pulls in
Connect's runtime, which the broker does not need), keyed by the pom's hash and version.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import orjson

from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.broker.local import kafka_version
from usage_pipeline.broker.maven import MavenError, copy_dependencies
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.settings import Settings

HERE = Path(__file__).with_name("kafka-tools")
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"
# "1000 records sent, 512.3 records/sec (0.29 MB/sec), 5.10 ms avg latency, ... 50th, ..."
PRODUCER_SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, "
    r"(?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th"
)


class ToolsUnavailableError(RuntimeError):
    """Java or Maven is missing, or Maven could not resolve the tools; says which in one line."""


def require_java_and_maven() -> tuple[str, str]:
    """The paths of ``java`` and ``mvn``, or a clear error naming the one that is missing."""
    found = {name: shutil.which(name) for name in ("java", "mvn")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise ToolsUnavailableError(
            f"{' and '.join(missing)} not on PATH: bench/pipeline.py needs a Java 17+ runtime "
            "and Maven to run Kafka's ProducerPerformance and ConsumerPerformance"
        )
    return found["java"], found["mvn"]  # type: ignore[return-value]


def tool_jars(settings: Settings) -> Path:
    """The folder of the tools' jars, copied from Maven Central on first use."""
    _, mvn = require_java_and_maven()
    version = kafka_version()
    digest = hashlib.sha256(POM.read_bytes() + version.encode()).hexdigest()[:12]
    jars = settings.local_broker.jar_cache / f"kafka-tools-{version}-{digest}" / "libs"
    try:
        return copy_dependencies(
            mvn, POM, jars, "kafka-tools-*.jar", [f"-Dkafka.version={version}"]
        )
    except MavenError as exc:
        raise ToolsUnavailableError(f"resolving kafka-tools {version} failed: {exc}") from None


def producer_performance(
    jars: Path,
    bootstrap: str,
    topic: str,
    records: int,
    payload_file: Path,
    producer: ProducerSettings,
) -> dict:
    """ProducerPerformance with our producer's settings; records/s, MB/s and latencies."""
    props = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": producer.compression,
        "linger.ms": producer.linger_ms,
        "batch.size": producer.batch_size_bytes,
    }
    output = _run_tool(
        jars,
        "org.apache.kafka.tools.ProducerPerformance",
        ["--topic", topic, "--num-records", str(records), "--throughput", "-1",
         "--payload-file", str(payload_file),
         "--producer-props", *(f"{key}={value}" for key, value in props.items())],
    )  # fmt: skip
    return parse_producer_output(output)


def parse_producer_output(output: str) -> dict:
    """The figures of ProducerPerformance's last line (its summary)."""
    match = PRODUCER_SUMMARY.search(output.strip().splitlines()[-1] if output.strip() else "")
    if match is None:
        raise ToolsUnavailableError(f"ProducerPerformance printed no summary: {output[-300:]}")
    return {
        "records": int(match["records"]),
        "records_per_s": float(match["rate"]),
        "mb_per_s": float(match["mb"]),
        "latency_ms": {k: float(match[k]) for k in ("avg", "p50", "p95", "p99", "max")},
    }


def payload_file(config: SimulationConfig, folder: Path) -> tuple[Path, float]:
    """``config``'s events serialized, one a line, for ProducerPerformance; their mean size."""
    lines = [orjson.dumps(event) for event in simulate(config)]
    path = folder / "payloads.jsonl"
    path.write_bytes(b"\n".join(lines))
    return path, sum(map(len, lines)) / len(lines)


def consumer_performance(jars: Path, bootstrap: str, topic: str, records: int, group: str) -> dict:
    """ConsumerPerformance reading ``records`` from ``topic``; records/s and MB/s."""
    output = _run_tool(
        jars,
        "org.apache.kafka.tools.ConsumerPerformance",
        ["--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(records),
         "--group", group, "--timeout", "30000"],
    )  # fmt: skip
    return parse_consumer_output(output)


def parse_consumer_output(output: str) -> dict:
    """The figures of ConsumerPerformance's CSV header and last row."""
    rows = [line.split(",") for line in output.splitlines() if line.count(",") >= 9]
    if len(rows) < 2:
        raise ToolsUnavailableError(f"ConsumerPerformance printed no figures: {output[-300:]}")
    figures = dict(zip([h.strip() for h in rows[0]], [v.strip() for v in rows[-1]], strict=True))
    return {
        "records": int(figures["data.consumed.in.nMsg"]),
        "records_per_s": float(figures["nMsg.sec"]),
        "mb_per_s": float(figures["MB.sec"]),
        "fetch_records_per_s": float(figures["fetch.nMsg.sec"]),
        "rebalance_ms": float(figures["rebalance.time.ms"]),
    }


def console_produce(jars: Path, bootstrap: str, topic: str, records: list[tuple[str, str]]) -> None:
    """Publish (key, value) records with Kafka's console producer: a Java client with Kafka's
    default partitioner, as a service in another language would."""
    lines = "".join(f"{key}\t{value}\n" for key, value in records)
    _run_tool(
        jars,
        "org.apache.kafka.tools.ConsoleProducer",
        ["--bootstrap-server", bootstrap, "--topic", topic,
         "--property", "parse.key=true", "--property", "key.separator=\t",
         "--producer-property", "acks=all"],
        stdin=lines,
    )  # fmt: skip


def _run_tool(jars: Path, main_class: str, arguments: list[str], stdin: str | None = None) -> str:
    java, _ = require_java_and_maven()
    result = subprocess.run(
        [java, "-Xmx512m", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
         "-cp", str(jars / "*"), main_class, *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no error printed"]
        raise ToolsUnavailableError(f"{main_class} exited {result.returncode}: {lines[-1][:300]}")
    return result.stdout
