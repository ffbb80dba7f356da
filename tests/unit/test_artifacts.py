"""`thorfleet hosts --artifacts`: the script each unit runs, on real folders here, and a unit that cannot be asked."""

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from thorfleet.core.holdings import SCRIPT
from thorfleet.commands import main

from .helpers import fleet_of


def test_the_unit_script_lists_model_files_with_their_origin_and_the_current_builds(tmp_path):
    models, builds = tmp_path / "models", tmp_path / "builds"
    (models / "org/m").mkdir(parents=True)
    (models / "org/m/.thorfleet-verified.json").write_text(json.dumps(
        {"m.gguf": {"size": 2_000_000, "mtime_ns": 1, "sha256": "ab" * 32, "from": "fan-out"}}))
    for engine, marks in (("llama.cpp", ["install.sh"]), ("sd.cpp", ["install.sh", "fanout"]), ("whisper.cpp", [])):
        (builds / engine / "builds/b1/bin").mkdir(parents=True)
        (builds / engine / "builds/b1/bin/tool").write_bytes(b"x" * 1000)
        (builds / engine / "logs").mkdir()
        for mark in marks:  # what installing a copied build leaves: its install script, and a mark when multicast brought it
            (builds / engine / f"logs/b1.{mark}").write_text("")
        os.symlink("builds/b1", builds / engine / "current")
    (builds / ".thorfleet-incoming").mkdir()  # the fan-out's folder is no engine
    found = json.loads(subprocess.run([sys.executable, "-c", SCRIPT, str(models), str(builds)], capture_output=True,
                                      text=True, check=True, env={"PATH": "/nonexistent"}).stdout)  # no docker here
    assert found["models"] == [{"name": str(models / "org/m/m.gguf"), "bytes": 2_000_000, "id": "ab" * 6, "from": "fan-out"}]
    assert [(b["name"], b["id"], b["bytes"], b["from"]) for b in found["builds"]] == [
        ("llama.cpp", "b1", 1000, "the fleet's build (copied)"), ("sd.cpp", "b1", 1000, "the fleet's build (fan-out)"),
        ("whisper.cpp", "b1", 1000, "compiled here")]
    assert found["images"] == []


def test_a_unit_that_cannot_be_asked_is_named_and_the_exit_status_says_so(tmp_path, monkeypatch):
    fleet_of(tmp_path, {})  # thor-01 on a loopback port where nothing listens
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["hosts", "inventory/fleet.py", "--artifacts"])
    assert result.exit_code == 1
    assert "thor-01 (127.0.0.1:9) cannot be reached over SSH" in result.output and "Traceback" not in result.output
