"""`usage-pipeline report`: one self-contained HTML file of the published aggregates.

``data`` reads the published Parquet aggregates, ``svg`` draws charts as inline SVG,
``html`` lays out the page. Nothing is fetched when the file is opened: no scripts, no
fonts, no images from elsewhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from aggregates.report.data import load_published
from aggregates.report.html import render


def write_report(lake_dir: Path, output: Path, k: int, now: dt.datetime | None = None) -> Path:
    """Render the published aggregates under ``lake_dir`` into ``output`` (written atomically)."""
    tables = load_published(lake_dir)
    page = render(tables, k, now or dt.datetime.now(dt.UTC))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(output)
    return output
