"""The rooms and their arrows (docs/architecture.md): imports run one way, the core does no I/O."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from schemas.topics import TOPICS

REPO = Path(__file__).resolve().parents[1]
# Each room and the rooms it may import. Lower rooms never import higher ones.
MAY_IMPORT: dict[str, set[str]] = {
    "schemas": set(),
    "broker": {"schemas"},
    "producers": {"schemas", "broker"},
    "streams": {"schemas", "broker"},
    "aggregates": {"schemas"},
    "audit": {"schemas", "broker", "streams", "aggregates"},
    "subjects": {"schemas", "broker", "streams", "aggregates", "audit"},
}
MAY_IMPORT["usage_pipeline"] = set(MAY_IMPORT)  # the edge wires every room
# The settings module still sits in the CLI's package and is read by the stages; issue 18
# (step 2) moves it to the edge. It is the one arrow allowed against the direction.
SETTINGS = "usage_pipeline.settings"
# The pure core: payload in, records out. It must reach no client, file format or settings.
PURE_CORE = (
    "schemas.contracts",
    "streams.processor",
    "streams.anonymizer",
    "streams.consent",
    "streams.deadletter",
    "streams.output",
    "streams.policy.model",
)
IO = ("broker", "confluent_kafka", "pyarrow", "duckdb", "pandas", "usage_pipeline")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imports() -> dict[str, set[str]]:
    """Every module of the rooms -> the absolute modules it imports."""
    graph = {}
    for room in MAY_IMPORT:
        for path in (REPO / room).rglob("*.py"):
            found = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module)
                elif isinstance(node, ast.Import):
                    found |= {alias.name for alias in node.names}
            graph[module_name(path)] = found
    return graph


def reachable(module: str) -> set[str]:
    """The modules ``module`` imports, directly or through the project's own modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for imported in imports().get(todo.pop(), ()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


@pytest.mark.parametrize("room", MAY_IMPORT)
def test_a_room_imports_only_the_rooms_below_it(room):
    against = {
        f"{module} imports {imported}"
        for module, found in imports().items()
        if module.split(".")[0] == room
        for imported in found
        if imported.split(".")[0] in MAY_IMPORT
        and imported.split(".")[0] not in MAY_IMPORT[room] | {room}
        and imported != SETTINGS
    }
    assert not against


@pytest.mark.parametrize("module", PURE_CORE)
def test_the_pure_core_reaches_no_client_file_format_or_settings(module):
    assert not {m for m in reachable(module) if m.split(".")[0] in IO}


def test_architecture_doc_lists_every_registered_topic_with_its_writers_and_readers():
    doc = (REPO / "docs" / "architecture.md").read_text()
    for topic in TOPICS:
        name = topic.name + ("<output>" if topic.family else "")
        writers = ", ".join(topic.writers)
        readers = ", ".join(topic.readers) or "admin"
        assert re.search(
            rf"^\| `{re.escape(name)}` \| [^|]+ \| {writers} \| {readers} \|", doc, re.M
        )
