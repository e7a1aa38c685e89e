"""Why the sink stops: kept apart from pyarrow so the CLI can name them without loading it."""

from __future__ import annotations


class OutputSchemaError(ValueError):
    """The contracts and the policy do not give an output one consistent Arrow schema."""


class RecordError(ValueError):
    """Records that do not fit their output's schema; the sink stops rather than lose fields."""


class CompactionError(RuntimeError):
    """The merged file does not hold exactly the rows of the files it replaces."""
