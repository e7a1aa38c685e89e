"""The rooms and their arrows (docs/architecture.md): imports run one way, the core does no I/O."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

from usage_pipeline.schemas.topics import TOPICS

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "usage_pipeline"
EDGE = "cli"  # usage_pipeline itself: the CLI and the settings
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
ROOMS = tuple(MAY_IMPORT)
MAY_IMPORT[EDGE] = set(ROOMS)  # the edge wires every room
# The root settings are read at the edge only; each room declares its own section.
SETTINGS = f"{PACKAGE}.settings"
# The pure core: payload in, records out. It must reach no client, file format or settings.
PURE_CORE = (
    "usage_pipeline.schemas.contracts",
    "usage_pipeline.schemas.strict_json",
    "usage_pipeline.schemas.violations",
    "usage_pipeline.streams.processor",
    "usage_pipeline.streams.anonymizer",
    "usage_pipeline.streams.consent",
    "usage_pipeline.streams.deadletter",
    "usage_pipeline.streams.output",
    "usage_pipeline.streams.policy.model",
)
IO = ("confluent_kafka", "pyarrow", "duckdb", "pandas", f"{PACKAGE}.broker", SETTINGS)
# A quoted dotted path to a module of a room, as monkeypatch and uvicorn take them.
DOTTED = re.compile(rf"^(?:{'|'.join(ROOMS)})\.\w+")


def room_of(module: str) -> str | None:
    """The room a module of ours lives in (None: not ours)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else EDGE


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts if parts[0] == PACKAGE else (PACKAGE, *parts))


def imported_by(path: Path) -> set[str]:
    """The absolute modules a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@cache
def imports() -> dict[str, set[str]]:
    """Every module of the rooms and the edge -> the absolute modules it imports."""
    return {
        module_name(path): imported_by(path)
        for folder in (*ROOMS, PACKAGE)
        for path in (REPO / folder).rglob("*.py")
    }


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
        if room_of(module) == room
        for imported in found
        if room_of(imported) not in {None, room, *MAY_IMPORT[room]}
    }
    assert not against


@pytest.mark.parametrize("module", PURE_CORE)
def test_the_pure_core_reaches_no_client_file_format_or_settings(module):
    assert not {m for m in reachable(module) if m.startswith(IO)}


def test_code_and_tests_reach_the_rooms_only_through_the_package():
    # "import streams" or monkeypatch.setattr("streams.x.y", ...) would load a second copy of
    # a module from the repository root, which the code under test never sees.
    files = subprocess.check_output(["git", "ls-files", "*.py"], cwd=REPO, text=True).split()
    bare = set()
    for name in files:
        tree = ast.parse((REPO / name).read_text())
        found = imported_by(REPO / name)
        bare |= {f"{name} imports {m}" for m in found if m.split(".")[0] in ROOMS}
        bare |= {
            f"{name} names {node.value}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED.match(node.value)
            and (REPO / node.value.split(".")[0] / f"{node.value.split('.')[1]}.py").exists()
        }
    assert not bare


def test_every_package_folder_is_installed():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        module_name(init)
        for folder in (*ROOMS, PACKAGE)
        for init in (REPO / folder).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == folders
    assert setuptools["package-dir"] == {f"{PACKAGE}.{room}": room for room in ROOMS}


def test_a_generic_room_name_is_not_importable_outside_the_repository(tmp_path):
    probe = "import importlib.util as u; print(u.find_spec('streams'), u.find_spec('schemas'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "None None"


def test_architecture_doc_lists_every_registered_topic_with_its_writers_and_readers():
    doc = (REPO / "docs" / "architecture.md").read_text()
    for topic in TOPICS:
        name = topic.name + ("<output>" if topic.family else "")
        writers = ", ".join(topic.writers)
        readers = ", ".join(topic.readers) or "admin"
        row = rf"^\| `{re.escape(name)}` \| [^|]+ \| {writers} \| {readers} \|"
        assert re.search(row, doc, re.M), topic.name
