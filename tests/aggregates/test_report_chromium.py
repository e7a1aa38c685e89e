"""The report renders in headless Chromium (Debian's `chromium`) and its charts are drawn.

`make test` installs chromium when it is missing and the user is root. In CI (CI=true) a
missing chromium fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.aggregates.report_lake import read_png, report
from usage_pipeline.aggregates.report.svg import PALETTE

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        reason = "chromium is not installed (apt-get install chromium; `make test` does it as root)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must run the report's rendering test")
        pytest.skip(reason)
    return found


def run_chromium(chromium: str, tmp_path: Path, page: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])


def test_report_renders_with_its_charts_drawn(chromium, lake, tmp_path):
    page = report(lake, tmp_path)

    dom = run_chromium(chromium, tmp_path, page, "--dump-dom")
    lines = re.findall(r'<polyline class="series"[^>]* points="([^"]+)"', dom)
    assert len(lines) >= 8  # four trend charts, each with its series and 7-day average
    assert all(len(points.split()) >= 2 for points in lines)
    assert len(re.findall(r'<rect class="bar"', dom)) >= 6
    assert "Usage and trends" in dom

    shot = tmp_path / "shot.png"
    run_chromium(chromium, tmp_path, page, "--window-size=1000,900", f"--screenshot={shot}")
    pixels = read_png(shot.read_bytes())[:, :, :3].astype(int)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not blank
    for color in (PALETTE[0], PALETTE[1]):  # the series and the dashed 7-day average
        close = np.abs(pixels - rgb(color)).max(axis=2) <= 24
        assert close.sum() > 100, f"no {color} strokes on the screenshot"
