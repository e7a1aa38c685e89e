"""The base of every settings section: typed, frozen once read, unknown names refused.

Each room declares the section it takes (``broker/config.py``, ``streams/config.py``, ...);
the root ``Settings`` at the edge (``usage_pipeline/settings.py``) composes them and reads
the environment and the TOML file once. A stage is handed its own section, never the root.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A group of settings; a misspelt name is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
