"""`usage-pipeline report`: one self-contained HTML file of the published aggregates.

``data`` reads the published Parquet aggregates, ``svg`` draws charts as inline SVG,
``html`` lays out the page. Nothing is fetched when the file is opened: no scripts, no
fonts, no images from elsewhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from usage_pipeline.aggregates.report.data import load_published
from usage_pipeline.aggregates.report.html import render
from usage_pipeline.aggregates.state import read_state, state_path


def write_report(
    lake_dir: Path, output: Path, k: int | None = None, now: dt.datetime | None = None
) -> Path:
    """Render the published aggregates under ``lake_dir`` into ``output`` (written atomically).

    k defaults to the one the last build suppressed with, from its build state.
    """
    tables = load_published(lake_dir)
    state = read_state(lake_dir)
    if k is None:
        if state is None:
            raise FileNotFoundError(
                f"{state_path(lake_dir)}: no build record; run `usage-pipeline aggregate build`"
            )
        k = state.k
    built_at = None if state is None else state.built_at
    page = render(tables, k, now or dt.datetime.now(dt.UTC), built_at)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(output)
    return output
