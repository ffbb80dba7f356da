"""Models on lab units from the lab's ModelScope-compatible endpoint: verified, resumable, space-checked."""

import hashlib
import subprocess
import sys
import time

import pytest

from thorfleet.lab import faults, layout

from .helpers import ROOT, converge, project_with, ssh

pytestmark = pytest.mark.lab
ROLES = ["base", "models"]
LAB_MODELS = layout.LAB / "models/thorfleet-lab"
GGUF = "tiny-qwen2-f16.gguf"
WHISPER = "ggml-tiny-random.bin"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def gguf_sha(lab_units) -> str:
    """The lab model's sha256, once `lab up` has made it."""
    return sha256(LAB_MODELS / "tiny-qwen2-GGUF" / GGUF)


def unit_sha(unit, path) -> str:
    return ssh(unit, f"sudo sha256sum {path} | cut -d' ' -f1").stdout.strip()


@pytest.fixture(scope="module")
def inventory(lab_units, tmp_path_factory):
    # Each unit downloads (the fleet's fan-out, the default for what several units serve: test_fanout.py).
    own = {"roles": ROLES, "model_store": {"fetch": "unit"}}
    path = project_with(tmp_path_factory.mktemp("models"), {h: own for h in ("sim-01", "sim-02", "sim-03")})
    first = converge(path)
    assert first.returncode == 0, first.output[-4000:]
    return path


def test_models_land_where_their_engines_run_and_a_second_run_changes_nothing(lab_units, gguf_sha, inventory):
    sim01, sim02, sim03 = lab_units
    assert unit_sha(sim01, f"/models/thorfleet-lab/tiny-qwen2-GGUF/{GGUF}") == gguf_sha
    assert unit_sha(sim01, f"/models/thorfleet-lab/tiny-whisper-ggml/{WHISPER}") == sha256(LAB_MODELS / "tiny-whisper-ggml" / WHISPER)
    for folder in ("/models/lab/coder", "/models/lab/gpt-oss"):
        assert unit_sha(sim02, f"{folder}/{GGUF}") == gguf_sha
    # sim-02 serves neither qwen3-8b (the coder group's engines replace it) nor whisper.
    assert ssh(sim02, "test -e /models/thorfleet-lab").returncode != 0
    assert unit_sha(sim03, f"/models/lab/qwen3-8b/{GGUF}") == gguf_sha
    again = converge(inventory)
    assert again.returncode == 0 and again.changed() == [], again.changed()


def test_a_corrupted_file_is_detected_and_fetched_again(lab_units, gguf_sha, inventory):
    unit, path = lab_units[1], f"/models/lab/coder/{GGUF}"
    ssh(unit, f"printf 'garbage' | sudo dd of={path} bs=1 seek=4096 conv=notrunc status=none")
    assert unit_sha(unit, path) != gguf_sha
    result = converge(inventory, "--limit", unit.name)
    assert result.returncode == 0, result.output[-4000:]
    assert unit_sha(unit, path) == gguf_sha


def test_a_too_small_disk_is_reported_before_any_byte_is_written(lab_units, gguf_sha, inventory):
    unit, folder = lab_units[2], "/models/lab/qwen3-8b"
    ssh(unit, f"sudo rm -rf {folder}")
    faults.fill_disk(unit)
    try:
        result = converge(inventory, "--limit", unit.name)
        assert result.returncode != 0
        assert f"model qwen3-8b needs 0.02 GiB more in {folder}, but only 0.00 GiB is free there; nothing was downloaded" \
            in result.output
        assert "Traceback" not in result.output
        assert ssh(unit, f"test -e {folder}").returncode != 0
    finally:
        faults.free_disk(unit)
    assert converge(inventory, "--limit", unit.name).returncode == 0
    assert unit_sha(unit, f"{folder}/{GGUF}") == gguf_sha


def test_a_download_cut_off_midway_resumes_on_the_next_run(lab_units, gguf_sha, inventory):
    unit, path = lab_units[0], f"/models/thorfleet-lab/tiny-qwen2-GGUF/{GGUF}"
    ssh(unit, f"sudo rm -f {path}")
    faults.throttle(2 << 20)  # 2 MiB/s: the 25 MB file takes ~12 s
    deploy = subprocess.Popen([sys.executable, "-m", "pyinfra", "-y", str(inventory), "deploy.py", "--limit", unit.name],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        partial = 0
        deadline = time.monotonic() + 60
        while partial < 6 << 20 and time.monotonic() < deadline:
            time.sleep(0.5)
            found = ssh(unit, f"sudo stat -c %s {path}.incomplete 2>/dev/null").stdout.strip()
            partial = int(found or 0)
        assert partial >= 6 << 20, "the download never got going"
        faults.cut(unit)
        faults.kill(unit, "modelscope")  # the download dies with the link
    finally:
        deploy.kill()
        deploy.wait()
        faults.restore(unit)
        faults.throttle(None)
    kept = int(ssh(unit, f"sudo stat -c %s {path}.incomplete").stdout.strip())
    assert kept >= 6 << 20
    before = len(faults.transfers(GGUF))
    result = converge(inventory, "--limit", unit.name)
    assert result.returncode == 0, result.output[-4000:]
    assert unit_sha(unit, path) == gguf_sha
    resumed = faults.transfers(GGUF)[before:]
    assert resumed and resumed[-1]["start"] >= kept - (1 << 20), resumed  # picked up where it stopped, not from 0


def test_download_once_distribute_serves_each_file_from_the_endpoint_once(lab_units, gguf_sha, tmp_path):
    """model_store.fetch: controller — the controller fetches, the three units get it from there."""
    store = {"fetch": "controller", "controller_cache": str(tmp_path / "cache"), "serve_address": layout.CONTROLLER_ADDRESS}
    inventory = project_with(tmp_path, {h: {"roles": ROLES, "model_store": store} for h in ("sim-01", "sim-02", "sim-03")})
    for unit in lab_units:
        ssh(unit, "sudo rm -rf /models")
    before = len(faults.transfers(GGUF))
    result = converge(inventory)
    assert result.returncode == 0, result.output[-4000:]
    for unit, path in zip(lab_units, ("/models/thorfleet-lab/tiny-qwen2-GGUF", "/models/lab/coder", "/models/lab/qwen3-8b")):
        assert unit_sha(unit, f"{path}/{GGUF}") == gguf_sha
    assert unit_sha(lab_units[1], f"/models/lab/gpt-oss/{GGUF}") == gguf_sha
    fetched = faults.transfers(GGUF)[before:]
    assert [t["client"] for t in fetched] == [layout.CONTROLLER_ADDRESS], fetched  # once, by the controller
    again = converge(inventory)
    assert again.returncode == 0 and again.changed() == []
    assert len(faults.transfers(GGUF)) == before + 1
