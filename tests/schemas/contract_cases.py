"""Shared helpers for the event-contract tests (a plain module, so test files can import it)."""

import json
from pathlib import Path

from usage_pipeline import schemas

EXAMPLES_DIR = Path(schemas.__file__).resolve().parent / "examples"


def load_examples() -> dict[str, dict]:
    """Example events keyed by event type (file name <event_type>.v1.json)."""
    return {
        path.name.removesuffix(".v1.json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(EXAMPLES_DIR.glob("*.json"))
    }


def apply_changes(event: dict, changes: dict[str, object]) -> dict:
    """Set dotted paths in an event (creating objects on the way); the value ``...`` deletes."""
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = event
        for name in parents:
            node = node.setdefault(name, {})
        if value is ...:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return event
