"""Every command of `usage-pipeline`, imported only when it runs.

Importing every command module would load pyarrow, pandas, DuckDB and the HTTP server into
each process: a stream worker (one process per `--processes`) would pay about 170 MB of RSS
and a second of start-up for commands it never runs. The group below imports a command's
module when the command is looked up: to run it, or to print `--help`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import typer
from typer.core import TyperCommand, TyperGroup

# Command name -> "module:attribute", in the order `--help` lists them. The attribute is a
# typer.Typer (a group of subcommands) or a function (one command).
COMMANDS: dict[str, str] = {
    "kafka": "usage_pipeline.cli.kafka:app",
    "policy": "usage_pipeline.cli.policy:app",
    "emit": "usage_pipeline.cli.publish:emit",
    "simulate": "usage_pipeline.cli.publish:simulate_command",
    "demo": "usage_pipeline.cli.demo:demo",
    "stream": "usage_pipeline.cli.stream:stream",
    "sink": "usage_pipeline.cli.sink:sink",
    "lake": "usage_pipeline.cli.sink:lake_app",
    "aggregate": "usage_pipeline.cli.aggregate:app",
    "audit": "usage_pipeline.cli.audit:app",
    "subject": "usage_pipeline.cli.subject:app",
    "report": "usage_pipeline.cli.report:report",
    "collect": "usage_pipeline.cli.collect:collect",
}


class LazyCommands(TyperGroup):
    """A command group that imports each command's module on first lookup."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """Every command's name, without importing any of them."""
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        """The named command, its module imported now; None for an unknown name."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        command = (
            typer.main.get_group(found)
            if isinstance(found, typer.Typer)
            else _single_command(cmd_name, found)
        )
        command.name = cmd_name
        return command


def _single_command(name: str, function: Callable[..., object]) -> TyperCommand:
    single = typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown"
    )
    single.command(name)(function)
    command = typer.main.get_command(single)
    assert isinstance(command, TyperCommand)
    return command
