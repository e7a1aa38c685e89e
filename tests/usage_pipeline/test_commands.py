"""The CLI imports a command's module only when that command runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer

from usage_pipeline.cli.commands import COMMANDS
from usage_pipeline.cli.main import app

HEAVY = ("pyarrow", "pandas", "duckdb", "numpy", "granian", "starlette")


def modules_loaded_by(*modules: str) -> set[str]:
    """The heavy libraries a fresh interpreter holds after importing ``modules``."""
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in modules)
        + f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_starting_the_cli_loads_no_heavy_library():
    assert modules_loaded_by("usage_pipeline.cli.main") == set()


def test_a_stream_worker_loads_neither_arrow_nor_duckdb_nor_the_http_server():
    assert modules_loaded_by("usage_pipeline.cli.main", "usage_pipeline.cli.stream") == set()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_imports_and_explains_itself(name):
    group = typer.main.get_command(app)
    with typer.Context(group) as context:
        command = group.get_command(context, name)
    assert command is not None
    assert command.help


def test_an_unknown_command_is_refused_with_usage_exit_code():
    result = subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "no-such-command"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "No such command" in result.stderr


def help_of(*command: str) -> str:
    """What ``usage-pipeline <command> --help`` prints on a wide terminal."""
    result = subprocess.run(
        [sys.executable, "-m", "usage_pipeline", *command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_joins_the_lines_of_a_docstring_paragraph():
    assert "Stop with Ctrl-C (or SIGTERM)" in help_of("stream")


def test_help_keeps_placeholders_in_paths():
    assert "<lake>/aggregates/<name>/data.parquet" in help_of("aggregate", "build")
