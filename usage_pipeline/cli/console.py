"""Shared terminal output: a stdout console for results, a stderr console for status."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

out = Console()
err = Console(stderr=True)


def configure_logging(level: str) -> None:
    """Send log records to stderr through rich, at ``level``."""
    logging.basicConfig(
        level=level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=False)],
        force=True,
    )
