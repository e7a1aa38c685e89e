"""Copy a pom's runtime jars from Maven Central into a cache folder, once, safely under races."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class MavenError(RuntimeError):
    """Maven failed or copied no expected jar; the message is Maven's last error line."""


def copy_dependencies(
    mvn: str, pom: Path, jars: Path, expected_glob: str, extra_args: Sequence[str] = ()
) -> Path:
    """``jars`` filled with ``pom``'s runtime dependencies; later calls reuse the folder.

    The jars are staged beside ``jars`` and renamed into place with a completion mark, so
    two runs racing never see half a folder.
    """
    if (jars / ".complete").exists():
        return jars
    jars.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=jars.parent))
    result = subprocess.run(
        [mvn, "-B", "-q", "-f", str(pom), f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
         f"-DoutputDirectory={staging}", "-DincludeScope=runtime", *extra_args],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0 or not any(staging.glob(expected_glob)):
        shutil.rmtree(staging, ignore_errors=True)
        raise MavenError(last_error_line(result.stdout + result.stderr) or f"no {expected_glob}")
    (staging / ".complete").touch()
    if (jars / ".complete").exists():  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    else:
        shutil.rmtree(jars, ignore_errors=True)
        staging.rename(jars)
    return jars


def last_error_line(text: str) -> str:
    """The most telling line of a failed Java or Maven run, cut to one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in ("ERROR", "Exception", "FATAL", "error:"):
        matches = [line for line in lines if marker in line]
        if matches:
            return matches[-1][:300]
    return lines[-1][:300] if lines else ""
