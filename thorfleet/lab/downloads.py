"""Files the lab takes from PyPI once, verified and cached under the lab's cache folder."""

import hashlib
import os
import re
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from thorfleet.lab import layout
from thorfleet.lab.system import LabError, python

SDISTS = layout.DOWNLOADS / "sdists"
WHEELS = layout.DOWNLOADS / "wheels"


def index_url() -> str:
    """The package index pip uses on this controller (PIP_INDEX_URL, pip's config, or pip's default)."""
    configured = os.environ.get("PIP_INDEX_URL") or subprocess.run(
        [python(), "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
    ).stdout.strip()
    if configured:
        return configured.rstrip("/")
    from pip._internal.models.index import PyPI  # pip's own default, so no index address is written here

    return PyPI.simple_url.rstrip("/")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist(project: str, filename: str, sha256: str) -> Path:
    """A source distribution from PyPI, downloaded once and checked against its pinned sha256."""
    target = SDISTS / filename
    if target.exists() and _sha256(target) == sha256:
        return target
    page_url = f"{index_url()}/{project}/"
    try:
        page = urllib.request.urlopen(page_url, timeout=60).read().decode()
    except OSError as err:
        raise LabError(f"cannot read the package index page {page_url}: {err}") from None
    match = re.search(rf'href="([^"#]+/{re.escape(filename)})(?:#[^"]*)?"', page)
    if not match:
        raise LabError(f"{filename} is not listed on {page_url}")
    url = match.group(1) if "://" in match.group(1) else urllib.parse.urljoin(page_url, match.group(1))
    SDISTS.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out, Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn()
    ) as progress:
        task = progress.add_task(filename, total=int(response.headers.get("Content-Length") or 0) or None)
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
            progress.advance(task, len(block))
    if (actual := _sha256(partial)) != sha256:
        partial.unlink()
        raise LabError(f"{filename}: sha256 {actual} is not the pinned {sha256}")
    partial.rename(target)
    return target


def wheelhouse(requirements: list[str], python_version: str) -> Path:
    """Wheels of `requirements` and their dependencies for the units' Python, for the lab's index."""
    marker = WHEELS / ".requirements"
    wanted = "\n".join(sorted(requirements)) + f"\npython {python_version}\n"
    if marker.exists() and marker.read_text() == wanted:
        return WHEELS
    WHEELS.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [python(), "-m", "pip", "download", "--quiet", "--only-binary=:all:", f"--python-version={python_version}",
         "--dest", str(WHEELS), *requirements], capture_output=True, text=True,
    )
    if result.returncode:
        raise LabError(f"pip download {' '.join(requirements)} failed: {result.stderr.strip().splitlines()[-1:]}")
    marker.write_text(wanted)
    return WHEELS
