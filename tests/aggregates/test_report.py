"""`usage-pipeline report`: a self-contained page whose suppressed cells never show a number."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

from tests.aggregates.report_lake import RARE_EVENTS, K, fill, report
from tests.aggregates.test_cli import CLI, env
from usage_pipeline.aggregates.report.svg import PALETTE, Series, line_chart

HIDDEN = f'<span class="suppressed">suppressed (&lt; {K})</span>'


def test_report_is_self_contained(lake, tmp_path):
    page = report(lake, tmp_path).read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    for outside in ("<script", "<link", "<img", "<iframe", "@import", "url("):
        assert outside not in page.lower()
    assert page.count("<svg") >= 8 and "<polyline" in page


def test_suppressed_cells_show_the_mark_never_a_number(lake, tmp_path):
    page = report(lake, tmp_path).read_text()
    # The feature one user used 7 times on one day: listed, but as suppressed.
    assert f"<tr><td>rare</td><td>{HIDDEN}</td></tr>" in page
    assert not re.search(rf"rare[^<]*</(td|title)>\s*<td>[^<]*{RARE_EVENTS}", page)
    assert "rare: " not in page  # no bar (a bar's tooltip is "name: value")
    # The campaign with one recipient: every step and rate is the mark.
    lonely = re.search(r"<tr><td>c-lonely</td>.*?</tr>", page)
    assert lonely is not None
    assert lonely[0].count(HIDDEN) == 8 and not re.search(r"<td>\d", lonely[0])
    # Day 10 has one active user: a gap in the line and a grey mark, noted under the chart.
    assert "day(s) suppressed (&lt; 2)" in page and 'class="suppressed-day"' in page


def test_lines_break_at_suppressed_days():
    days = [dt.date(2026, 11, d) for d in range(1, 6)]
    svg = line_chart([Series("s", list(zip(days, [1, 2, None, 4, 5], strict=True)))], "s")
    assert svg.count("<polyline") == 2 and PALETTE[0] in svg


def test_report_command_writes_the_file_and_explains_a_missing_build(lake, tmp_path):
    run = [*CLI, "report", "--output", str(tmp_path / "out" / "r.html")]
    missing = subprocess.run(run, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "aggregate build" in missing.stderr
    assert "Traceback" not in missing.stderr
    report(lake, tmp_path)
    done = subprocess.run(run, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_report_command_uses_the_k_the_build_suppressed_with(lake, tmp_path):
    fill(lake)
    lake.build(k=K + 1)  # the settings say K: a stale setting must not relabel the cells
    run = [*CLI, "report", "--output", str(tmp_path / "r.html")]
    done = subprocess.run(run, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "r.html").read_text()
    assert f"suppressed (&lt; {K + 1})" in page and f"suppressed (&lt; {K})" not in page
    assert "built 20" in page
