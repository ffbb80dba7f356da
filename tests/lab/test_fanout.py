"""`model_store.fetch: fleet` in the lab: each file over the uplink once, to every unit in one multicast
session; a unit dropping out, a corrupted copy and an interrupted deploy; image archives by the same
session (issue 29). Shared builds by it: test_builds.py."""

import os
import re
import subprocess
import sys
import time

import pytest

from thorfleet.core.paths import IMAGE_ARCHIVES_INCOMING
from thorfleet.lab import container_images, faults, layout

from .helpers import ROOT, converge, project_with, ssh, thorfleet
from .test_models import GGUF, gguf_sha, unit_sha  # noqa: F401  (gguf_sha is a fixture)

pytestmark = pytest.mark.lab
UNITS = ("sim-01", "sim-02", "sim-03")
INCOMING = "/models/.thorfleet-incoming"


def fleet_project(path, cache, **store):
    settings = {"fetch": "fleet", "controller_cache": str(cache), "serve_address": layout.CONTROLLER_ADDRESS, **store}
    return project_with(path, {h: {"roles": ["base", "models"], "model_store": settings} for h in UNITS})


def models_on(unit) -> list[str]:
    return ssh(unit, "sudo find /models -name '*.gguf' -not -path '*/.thorfleet-incoming/*'").stdout.split()


def assert_every_model_right(lab_units, sha):
    for unit in lab_units:
        found = models_on(unit)
        assert found, f"{unit.name} has no model"
        assert {unit_sha(unit, path) for path in found} == {sha}, unit.name
        assert ssh(unit, f"test -e {INCOMING}").returncode != 0  # cleared after the deploy


def received(output: str, unit: str) -> tuple[int, int] | None:
    """What the deploy said `unit` received by multicast: (files received, files it lacked)."""
    for line in output.splitlines():
        if f"[{unit}] fan-out: " in line and "received by multicast" in line:
            words = line.split("fan-out: ", 1)[1].split()
            return int(words[0]), int(words[2])
    return None


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fanout-cache")


@pytest.fixture(scope="module")
def fleet(lab_units, cache, tmp_path_factory):
    return fleet_project(tmp_path_factory.mktemp("fleet"), cache)


def wipe(lab_units):
    for unit in lab_units:
        ssh(unit, "sudo rm -rf /models")


def test_each_file_crosses_the_uplink_once_and_reaches_every_unit_in_one_session(lab_units, gguf_sha, fleet):
    wipe(lab_units)
    before = len(faults.transfers(GGUF))
    result = converge(fleet)
    assert result.returncode == 0, result.output[-4000:]
    assert_every_model_right(lab_units, gguf_sha)
    fetched = faults.transfers(GGUF)[before:]
    assert [t["client"] for t in fetched] == [layout.CONTROLLER_ADDRESS], fetched  # the uplink: once, by the controller
    for unit in UNITS:
        got = received(result.output, unit)
        assert got is not None and got[0] == got[1] >= 1, (unit, got, result.output[-3000:])
    assert "sent once to 3 units" in result.output
    closing = result.output.split("Artifacts placed by this deploy", 1)[1]
    for unit in UNITS:  # the deploy's closing table: each unit's files from the fan-out
        assert re.search(rf"│ {unit} +│ model [^│]+│ +(\d+) │ [^│]+│ fan-out \1 +│ [\d.]+ s", closing), closing
    uplink = re.search(r"models over the uplink: ([\d.]+) MB \(the controller's cache from the hubs ([\d.]+) MB, units from "
                       r"the internet 0.0 MB\)", closing)
    assert uplink and uplink[1] == uplink[2] and float(uplink[1]) > 1, closing
    held = thorfleet("hosts", str(fleet), "--artifacts", cwd=ROOT, env={**os.environ, "COLUMNS": "250"})
    assert held.returncode == 0, held.stdout + held.stderr
    for unit in UNITS:  # every unit's GGUF, and where it came from
        assert re.search(rf"{unit} .* model .*{GGUF} .* fan-out", held.stdout), held.stdout
    assert "controller's cache" not in held.stdout  # no file of any unit needed the HTTP fallback
    again = converge(fleet)
    assert again.returncode == 0 and again.changed() == [], again.changed()
    assert "sent once" not in again.output and "Artifacts placed by this deploy" not in again.output


def test_a_unit_that_drops_out_mid_session_does_not_stall_the_others_and_still_gets_its_copy(
        lab_units, gguf_sha, cache, tmp_path):
    slow = fleet_project(tmp_path, cache, fanout_rate_mbit=12)  # the 25 MB file takes ~17 s
    wipe(lab_units)
    dropped = lab_units[1]
    deploy = subprocess.Popen([sys.executable, "-m", "pyinfra", "-y", str(slow), "deploy.py"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        arrived, deadline = 0, time.monotonic() + 120
        while arrived < 4 << 20 and time.monotonic() < deadline and deploy.poll() is None:
            time.sleep(0.3)
            arrived = int(ssh(dropped, f"sudo du -sb {INCOMING}/.partial 2>/dev/null | cut -f1").stdout.strip() or 0)
        assert arrived >= 4 << 20, "the fan-out never got going"
        assert faults.kill(dropped, "uftpd") == 1  # its receiver dies mid-file
        output, _ = deploy.communicate(timeout=600)
    finally:
        deploy.kill()
    assert deploy.returncode == 0, output[-4000:]
    for unit in UNITS:
        got = received(output, unit)
        assert got is not None and got[0] == (0 if unit == dropped.name else got[1]), (unit, got)
    assert f"[{dropped.name}] fan-out: 0 of" in output and "the fetcher gets the rest over HTTP" in output
    assert re.search(rf"│ {dropped.name} +│ model [^│]+│ +(\d+) │ [^│]+│ controller's cache \1 +│", output), output[-3000:]
    assert_every_model_right(lab_units, gguf_sha)


def test_a_corrupted_copy_is_caught_by_its_sha256_and_sent_again_to_that_unit_only(lab_units, gguf_sha, fleet):
    assert converge(fleet).returncode == 0
    unit = lab_units[1]
    path = models_on(unit)[0]
    ssh(unit, f"printf 'garbage' | sudo dd of={path} bs=1 seek=4096 conv=notrunc status=none")
    assert unit_sha(unit, path) != gguf_sha
    result = converge(fleet)
    assert result.returncode == 0, result.output[-4000:]
    assert unit_sha(unit, path) == gguf_sha
    assert "sent once to 1 units" in result.output
    assert received(result.output, unit.name) == (1, 1)
    assert received(result.output, "sim-01") is None and received(result.output, "sim-03") is None


def test_an_interrupted_deploy_resumes_without_sending_again_what_crossed_the_uplink(lab_units, gguf_sha, tmp_path):
    cache = tmp_path / "cache"
    project = fleet_project(tmp_path / "project", cache)
    wipe(lab_units)
    before = len(faults.transfers(GGUF))
    faults.throttle(2 << 20)  # 2 MiB/s from the hub: the 25 MB file takes ~12 s
    deploy = subprocess.Popen([sys.executable, "-m", "pyinfra", "-y", str(project), "deploy.py"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        partial, deadline = 0, time.monotonic() + 60
        while partial < 6 << 20 and time.monotonic() < deadline:
            time.sleep(0.3)
            partial = sum(p.stat().st_size for p in cache.rglob("*.part"))
        assert partial >= 6 << 20, "the controller's download never got going"
    finally:
        deploy.kill()
        deploy.wait()
        faults.throttle(None)
    kept = sum(p.stat().st_size for p in cache.rglob("*.part"))
    result = converge(project)
    assert result.returncode == 0, result.output[-4000:]
    assert_every_model_right(lab_units, gguf_sha)
    fetched = faults.transfers(GGUF)[before:]
    assert all(t["client"] == layout.CONTROLLER_ADDRESS for t in fetched), fetched
    assert len(fetched) == 2 and fetched[1]["start"] >= kept - (1 << 20), (kept, fetched)  # resumed, not from 0


def test_image_archives_reach_their_units_in_one_multicast_session_and_are_loaded(lab_units, tmp_path):
    """docker.image_archives with fetch: fleet (units without a registry): the lab's stand-in archive is
    sent once to the two units lacking its images, checked by sha256 on each, loaded, and cleared."""
    settings = {"fetch": "fleet", "controller_cache": str(tmp_path / "models"), "serve_address": layout.CONTROLLER_ADDRESS}
    archives = {tag: str(container_images.ARCHIVE) for tag in container_images.TAGS}
    loaders = ("sim-01", "sim-02")
    project = project_with(tmp_path, {"sim-03": {"roles": ["base"]}, **{h: {
        "roles": ["base", "docker"], "model_store": settings, "docker": {"image_archives": archives}} for h in loaders}})
    for unit in lab_units[:2]:
        ssh(unit, f"sudo docker rmi -f {' '.join(container_images.TAGS)}")
    result = converge(project)
    assert result.returncode == 0, result.output[-4000:]
    assert "sent once to 2 units" in result.output
    assert "uploading the controller's" not in result.output  # both took their multicast copy
    for unit in lab_units[:2]:
        assert f"[{unit.name}] fan-out: 1 of 1 images files received by multicast" in result.output
        for tag in container_images.TAGS:
            found = ssh(unit, f"sudo docker image inspect --format '{{{{.Id}}}}' {tag}").stdout.strip()
            assert found == container_images.image_id(), (unit.name, tag)
        assert ssh(unit, f"sudo test -e {IMAGE_ARCHIVES_INCOMING}").returncode != 0
    closing = result.output.split("Artifacts placed by this deploy", 1)[1]
    for unit in loaders:  # the deploy's closing table: each image, and how it came
        for tag in container_images.TAGS:
            assert re.search(rf"│ {unit} +│ image {tag} +│ +- │ +[\d.]+ │ archive \(fan-out\) +│ [\d.]+ s", closing), closing
    again = converge(project)
    assert again.returncode == 0 and again.changed() == [], again.changed()
    assert "sent once" not in again.output
