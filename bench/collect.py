"""Benchmark: the HTTP collector under a real load generator (oha), with baselines.

Stages, all in one run, each against the same broker and a fresh topic namespace:

  HTTP floor          the same server (granian or uvicorn, Starlette) answering 204 to the
                      same requests without publishing
  batches of 100      POST /v1/events, 100 events a request: events/s at full load
  page views          POST /v1/pageview, one page view a request: page views/s at full load
                      (32 connections, each waiting for Kafka's acknowledgement: bound by
                      latency; and again with 256, as many browsers would: bound by CPU)
  latency at half     both again at half the target rate (25,000 events/s, 2,500 page views/s):
                      p50 and p99 latency
  publisher alone     EventPublisher.publish_json of the same events in one process, flushed

Targets (issue 17): >= 50,000 events/s in batches of 100, >= 5,000 page views/s, p99 <= 50 ms
at half of that. The load generator, broker and collector share the machine: read the CPU
seconds each used next to the rates.

Usage: python bench/collect.py [--seconds 10] [--server granian|uvicorn] [--workers N] [--json FILE]
(--workers: collector processes, `usage-pipeline collect --workers`; the targets are per process)
Needs `oha` (installed with `cargo install oha --locked` when cargo is there). Uses
KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import harness
import orjson

from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.cli.collect import APP_FACTORY
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.producers.topics import ensure_raw_topics

BATCH = 100
TARGET_EVENTS_PER_S = 50_000
TARGET_PAGE_VIEWS_PER_S = 5_000
CONNECTIONS = 32
BROWSER_CONNECTIONS = 256
TOKEN = "bench-token-0123456789abcdef"
ORIGIN = "https://www.example.com"
PUBLISHER_ROUNDS = 500


def main() -> None:
    command_line = harness.parser(__doc__, "seconds", 10)
    command_line.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    command_line.add_argument("--workers", type=int, default=1)
    args = command_line.parse_args()
    oha = find_oha()
    settings, bootstrap = harness.cluster()
    namespace = harness.fresh_namespace()
    ensure_raw_topics(bootstrap, settings.topics.model_copy(update={"namespace": namespace}))
    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    events = sample_events(BATCH)
    batch = work / "batch.json"
    batch.write_bytes(orjson.dumps(events))
    beacon = work / "beacon.json"
    beacon.write_bytes(orjson.dumps({"url": f"{ORIGIN}/pricing?plan=team", "referrer": None}))
    (work / "tokens").write_text(f"bench {TOKEN}\n")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
        "USAGE_PIPELINE_COLLECT__TOKENS_FILE": str(work / "tokens"),
        "USAGE_PIPELINE_COLLECT__SITE_ORIGINS": json.dumps([ORIGIN]),
        # One client IP sends everything here: lift the per-IP limit out of the way.
        "USAGE_PIPELINE_COLLECT__PAGEVIEWS_PER_S_PER_IP": "1000000",
        "USAGE_PIPELINE_COLLECT__PAGEVIEW_BURST": "1000000",
        "USAGE_PIPELINE_LOG_LEVEL": "WARNING",
    }
    load = Load(oha, batch, beacon, args.seconds)
    figures: dict = {
        "server": args.server,
        "seconds": args.seconds,
        "batch": BATCH,
        "workers": args.workers,
    }
    try:
        with Server(floor_command(args.server), env) as floor:
            figures["floor"] = load.stages(floor.url, floor, half=False)
        with Server(collector_command(args.server, args.workers), env) as collector:
            figures["collector"] = load.stages(collector.url, collector, half=True)
        figures["publisher_alone"] = publisher_alone(bootstrap, namespace, events)
    finally:
        harness.delete_namespace(bootstrap, namespace)
        shutil.rmtree(work, ignore_errors=True)
    report(figures)
    harness.save(args.json, figures)


def sample_events(count: int) -> list[dict]:
    """``count`` events of the simulator's mix, without consent changes (their topic is keyed
    differently and rare in real traffic)."""
    config = SimulationConfig(events=count * 4, days=1, seed=17)
    kept = (e for e in simulate(config) if e["event_type"] != "consent.changed")
    return list(itertools.islice(kept, count))


def find_oha() -> str:
    """The oha binary; installed with cargo when missing."""
    found = shutil.which("oha") or shutil.which(str(Path.home() / ".cargo" / "bin" / "oha"))
    if found:
        return found
    if not shutil.which("cargo"):
        sys.exit("oha is needed: cargo install oha --locked (or put it on PATH)")
    print("installing oha with cargo (a few minutes, once)...", file=sys.stderr)
    subprocess.run(["cargo", "install", "oha", "--locked"], check=True)
    return str(Path.home() / ".cargo" / "bin" / "oha")


def floor_command(server: str) -> list[str]:
    """The floor app on ``server``."""
    bench = str(Path(__file__).resolve().parent)
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "collect_floor:app", "--app-dir", bench,
                "--loop", "uvloop", "--http", "httptools", "--no-access-log"]  # fmt: skip
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop",
            "--http", "1", "--working-dir", bench, "collect_floor:app"]  # fmt: skip


def collector_command(server: str, workers: int = 1) -> list[str]:
    """The real collector on ``server`` (`usage-pipeline collect` for granian)."""
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--factory",
                APP_FACTORY, "--loop", "uvloop", "--http",
                "httptools", "--no-access-log", "--workers", str(workers)]  # fmt: skip
    more = ["--workers", str(workers)] if workers != 1 else []
    return [sys.executable, "-m", "usage_pipeline", "collect", *more]


class Server:
    """A server process on a free loopback port; its CPU seconds are read from /proc."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        flags = ["--port", str(port)] + (["--host", "127.0.0.1"] if "uvicorn" in command else [])
        self.command = [*command, *flags]
        self.env = {**env, "USAGE_PIPELINE_COLLECT__PORT": str(port)}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.command, env=self.env, cwd=harness.REPO,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v1/events", data=b"", timeout=1)
            except urllib.error.HTTPError:
                return self  # any HTTP answer: it serves
            except OSError:
                time.sleep(0.2)
            else:
                return self
        raise RuntimeError(f"{self.command[:4]} did not start")

    def cpu_s(self) -> float:
        """CPU seconds used so far by the server and its worker processes."""
        assert self.process is not None
        total = 0.0
        for pid in [self.process.pid, *children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """Descendant processes of ``pid``."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        for child in map(int, text):
            found += [child, *children(child)]
    return found


class Load:
    """oha runs against a server."""

    def __init__(self, oha: str, batch: Path, beacon: Path, seconds: int) -> None:
        self.oha = oha
        self.batch = batch
        self.beacon = beacon
        self.seconds = seconds

    def stages(self, url: str, server: Server, half: bool) -> dict:
        """Full load on both routes, then (``half``) half the target rate on both."""
        result = {
            "batches": self.run(url, server, "batch"),
            "page_views": self.run(url, server, "beacon"),
            "page_views_browsers": self.run(url, server, "beacon", connections=BROWSER_CONNECTIONS),
        }
        if half:
            rate = TARGET_EVENTS_PER_S / BATCH / 2
            result["batches_half"] = self.run(url, server, "batch", rate)
            result["page_views_half"] = self.run(url, server, "beacon", TARGET_PAGE_VIEWS_PER_S / 2)
        return result

    def run(
        self,
        url: str,
        server: Server,
        kind: str,
        rate: float | None = None,
        connections: int = CONNECTIONS,
    ) -> dict:
        """One oha run; requests/s, latency percentiles, statuses, server CPU seconds."""
        if kind == "batch":
            path, body = "/v1/events", self.batch
            headers = ["-H", f"Authorization: Bearer {TOKEN}", "-T", "application/json"]
        else:
            path, body = "/v1/pageview", self.beacon
            headers = ["-H", f"Origin: {ORIGIN}", "-T", "text/plain", "-H", "User-Agent: bench"]
        command = [self.oha, "--no-tui", "--output-format", "json", "-z", f"{self.seconds}s",
                   "-c", str(connections), "-m", "POST", "-D", str(body), *headers]  # fmt: skip
        if rate is not None:
            command += ["-q", str(rate)]
        before = server.cpu_s()
        started = time.monotonic()
        done = subprocess.run([*command, url + path], capture_output=True, text=True, check=True)
        wall = time.monotonic() - started
        cpu = server.cpu_s() - before
        out = json.loads(done.stdout)
        statuses = out.get("statusCodeDistribution", {})
        ok = sum(n for code, n in statuses.items() if code.startswith("2"))
        latency = out.get("latencyPercentiles", {})
        per_request = BATCH if kind == "batch" else 1
        return {
            "requests_per_s": out["summary"]["requestsPerSec"],
            "events_per_s": ok / wall * per_request,
            "ok": ok,
            "statuses": statuses,
            "p50_ms": (latency.get("p50") or 0) * 1000,
            "p99_ms": (latency.get("p99") or 0) * 1000,
            "server_cpu_s": cpu,
            "wall_s": wall,
            "rate": rate,
            "connections": connections,
        }


def publisher_alone(bootstrap: str, namespace: str, events: list[dict]) -> dict:
    """EventPublisher publishing the same serialized events, flushed: the producer's ceiling."""
    lines = [orjson.dumps(e) for e in events]
    settings = ProducerSettings(linger_ms=5)
    with EventPublisher(bootstrap, settings, namespace=namespace) as publisher:
        started = time.perf_counter()
        for _ in range(PUBLISHER_ROUNDS):
            for line in lines:
                publisher.publish_json(line)
        publisher.flush()
        seconds = time.perf_counter() - started
    count = PUBLISHER_ROUNDS * len(lines)
    return {"events": count, "events_per_s": count / seconds}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_per_event(stage: dict) -> float:
    """Server CPU microseconds (every thread and process) per event answered 2xx: steadier
    than rates on a shared machine."""
    events = stage["events_per_s"] * stage.get("wall_s", 0.0)
    return stage["server_cpu_s"] / events * 1e6 if events else float("nan")


def report(figures: dict) -> None:
    """Figures and ratios, as a table."""
    floor, collector = figures["floor"], figures["collector"]
    alone = figures["publisher_alone"]["events_per_s"]
    rows = [
        ("batches of 100: events/s", collector["batches"], floor["batches"], TARGET_EVENTS_PER_S),
        ("page views/s", collector["page_views"], floor["page_views"], TARGET_PAGE_VIEWS_PER_S),
        (
            f"page views/s, {BROWSER_CONNECTIONS} conns",
            collector["page_views_browsers"],
            floor["page_views_browsers"],
            TARGET_PAGE_VIEWS_PER_S,
        ),
    ]
    print(
        f"server: {figures['server']}, {figures.get('workers', 1)} collector process(es), "
        f"{figures['seconds']} s per stage, {CONNECTIONS} connections unless said"
    )
    print(f"{'':28} {'collector':>12} {'HTTP floor':>12} {'ratio':>6} {'target':>8} {'cpu s':>6} "
          f"{'cpu us/ev':>9} {'floor':>6}")  # fmt: skip
    for name, ours, base, target in rows:
        ratio = ours["events_per_s"] / base["events_per_s"]
        print(f"{name:28} {ours['events_per_s']:12,.0f} {base['events_per_s']:12,.0f} "
              f"{ratio:6.2f} {target:8,} {ours['server_cpu_s']:6.1f} "
              f"{cpu_per_event(ours):9.1f} {cpu_per_event(base):6.1f}")  # fmt: skip
    print(
        f"{'EventPublisher alone':28} {alone:12,.0f} events/s; collector batches / publisher "
        f"= {collector['batches']['events_per_s'] / alone:.2f}"
    )
    for name in ("batches_half", "page_views_half"):
        stage = collector[name]
        print(f"{name:28} at {stage['rate']:,.0f} req/s: p50 {stage['p50_ms']:.1f} ms, "
              f"p99 {stage['p99_ms']:.1f} ms, statuses {stage['statuses']}")  # fmt: skip
    for name in ("batches", "page_views", "page_views_browsers"):
        statuses = collector[name]["statuses"]
        print(f"{name} statuses at full load: {statuses}")


if __name__ == "__main__":
    main()
