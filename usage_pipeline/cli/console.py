"""Shared terminal output: a stdout console for results, a stderr console for status, logs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

out = Console()
err = Console(stderr=True)

# Log files (a worker's output redirected, the demo's own log) are read by people and by
# `audit scan`: one record a line, with its time and origin, never wrapped at 80 columns.
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send log records to stderr at ``level``: through rich on a terminal, else one plain
    line each (stderr is then a log file)."""
    handler: logging.Handler
    if err.is_terminal:
        handler = RichHandler(console=err, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def log_to_file(path: Path) -> None:
    """From now on, send this process's log records (librdkafka's included) to ``path``
    instead of the terminal, at the level already chosen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root = logging.getLogger()
    logging.basicConfig(level=root.level, handlers=[handler], force=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as one error line on stderr (never read as markup) and exit."""
    err.print(Text.assemble(("error: ", "red"), message), highlight=False, soft_wrap=True)
    sys.exit(code)
