"""Rendering: golden files for the example lab, systemd-analyze verify on every unit, JSON that parses.

Refresh the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/test_render.py`.
"""

import dataclasses
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from thorfleet.core.paths import JETSON_COLLECTOR_DIR
from thorfleet.host_files import host_files
from thorfleet.fleet import load_fleet
from thorfleet.core.render import RenderedFile

from ..conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"
FLEET = load_fleet(ROOT / "inventory" / "lab.py", secrets=False)
HOSTS = sorted(FLEET.hosts)


COPIED = {f"{JETSON_COLLECTOR_DIR}/jetson_textfile.py", f"{JETSON_COLLECTOR_DIR}/readings.py"}


def golden_path(host: str, dest: str) -> Path:
    return GOLDEN / host / dest.lstrip("/").replace("/", "__")


@pytest.mark.parametrize("host", HOSTS)
def test_rendered_files_match_golden(host):
    # Files copied verbatim from the package (the Jetson collector) are the package's own source: not kept twice.
    rendered = {f.dest: f.content for f in host_files(FLEET.hosts[host], FLEET) if f.dest not in COPIED}
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN / host, ignore_errors=True)
        for dest, content in rendered.items():
            golden_path(host, dest).parent.mkdir(parents=True, exist_ok=True)
            golden_path(host, dest).write_text(content)
    expected = {p.name: p.read_text() for p in (GOLDEN / host).iterdir()}
    assert {golden_path(host, d).name: c for d, c in rendered.items()} == expected


@pytest.mark.parametrize("host", HOSTS)
def test_daemon_json_parses_with_the_nvidia_runtime(host):
    files = {f.dest: f.content for f in host_files(FLEET.hosts[host], FLEET)}
    settings = json.loads(files["/etc/docker/daemon.json"])
    assert settings["default-runtime"] == "nvidia"
    assert settings["runtimes"]["nvidia"]["path"] == "nvidia-container-runtime"


# Units that packages install on a Thor and that rendered units require; absent from this test machine.
PACKAGE_UNITS = {"docker.service": "[Unit]\nDescription=Docker (from the docker package)\n[Service]\nExecStart=/usr/bin/dockerd\n"}


def _unit_root(tmp_path: Path, files) -> tuple[Path, list[str]]:
    """A root with the system's own units, the rendered ones, and every program they run (as empty scripts)."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for name, content in PACKAGE_UNITS.items():
        (root / "usr/lib/systemd/system" / name).write_text(content)
        files = [*files, RenderedFile(f"/usr/lib/systemd/system/{name}", content)]
    units = []
    for rendered in files:
        if "/systemd/system/" not in rendered.dest:
            continue
        path = root / rendered.dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered.content)
        if rendered.dest.startswith("/etc/"):
            units.append(Path(rendered.dest).name)
        for line in rendered.content.splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=", "ExecStop=")):
                program = line.split("=", 1)[1].lstrip("-+").split()[0]
                exe = root / program.lstrip("/")
                exe.parent.mkdir(parents=True, exist_ok=True)
                exe.write_text("#!/bin/sh\n")
                exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return root, units


@pytest.mark.parametrize("host", HOSTS)
def test_every_rendered_unit_passes_systemd_analyze_verify(tmp_path, host):
    require_tool("systemd-analyze", "systemd")
    root, units = _unit_root(tmp_path, host_files(FLEET.hosts[host], FLEET))
    assert units
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *units], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a unit with unbalanced quoting is rejected."""
    require_tool("systemd-analyze", "systemd")
    broken = RenderedFile("/etc/systemd/system/broken.service", '[Service]\nExecStart=/usr/bin/true "unbalanced\n')
    root, units = _unit_root(tmp_path, [broken])
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *units], capture_output=True, text=True)
    assert result.returncode != 0


def test_render_walks_the_roles_the_host_applies():
    host = dataclasses.replace(FLEET.hosts["thor-01"], roles=("base", "builds", "models", "engines"))
    dests = [f.dest for f in host_files(host, FLEET)]
    assert "/etc/docker/daemon.json" not in dests
    assert "/etc/systemd/system/thorfleet-qwen3-8b.service" in dests
