"""llama.cpp and whisper.cpp built on lab units from the lab's git mirrors (CPU flags, group_vars/sim.yml)."""

import re
import subprocess

import pytest

from thorfleet.roles.builds.files import build_id
from thorfleet.fleet.schema import HostConfig
from thorfleet.fleet import load_fleet
from thorfleet.lab import layout
from thorfleet.lab.sources import WHISPER_NEXT_TAG

from .helpers import ROOT, converge, project_with, ssh

pytestmark = pytest.mark.lab
ROLES = ["base", "builds"]
LLAMA = "/opt/thorfleet/builds/llama.cpp"
WHISPER = "/opt/thorfleet/builds/whisper.cpp"


def builds_only(tmp_path, **host_vars):
    """The lab with the builds role only, and a controller cache of builds of its own (empty at first), so that
    sim-01 compiles whatever the lab's other tests left in .cache/builds."""
    own_cache = {"controller_cache": str(tmp_path / "build-cache")}
    per_host = {name: {"roles": ROLES, "builds": own_cache} for name in ("sim-01", "sim-02", "sim-03")}
    for name, extra in host_vars.items():
        extra = dict(extra)
        per_host[name].update(extra, builds={**own_cache, **extra.pop("builds", {})})
    return project_with(tmp_path, per_host)


def current(unit, directory) -> str:
    return ssh(unit, f"readlink {directory}/current").stdout.strip()


def lab_whisper(ref=None):
    """sim's whisper.cpp build as the deploy sees it, with another ref if given."""
    build = load_fleet(ROOT / "inventory/sim.py", secrets=False).hosts["sim-01"].config.builds.whisper_cpp
    return build.model_copy(update={"ref": ref}) if ref else build


@pytest.fixture(scope="module")
def built(lab_units, tmp_path_factory):
    """sim-01 builds both engines, then sim-02 gets its llama.cpp, the same build, from sim-01 through the
    controller (builds.share), compiling nothing."""
    inventory = builds_only(tmp_path_factory.mktemp("builds"))
    first = converge(inventory, "--limit", "sim-01")
    assert first.returncode == 0, first.output[-4000:]
    rest = converge(inventory)
    assert rest.returncode == 0, rest.output[-4000:]
    return inventory


def test_units_run_the_built_programs_at_the_pinned_refs(lab_units, built):
    sim01, sim02, sim03 = lab_units
    pinned = HostConfig().builds.llama_cpp.ref
    for unit in (sim01, sim02):
        version = ssh(unit, f"{LLAMA}/current/bin/llama-server --version")
        assert version.returncode == 0 and f"commit {pinned[:7]}" in version.stderr
        assert ssh(unit, f"cat {LLAMA}/current/commit").stdout.strip() == pinned
    assert ssh(sim01, f"{WHISPER}/current/bin/whisper-server --help").returncode == 0
    assert ssh(sim02, f"test -e {WHISPER}").returncode != 0  # sim-02 runs no whisper-server
    assert ssh(sim03, "test -e /opt/thorfleet/builds").returncode != 0  # containers only
    log = ssh(sim01, f"cat {LLAMA}/logs/$(basename $(readlink {LLAMA}/current)).log").stdout
    assert "Including CPU backend" in log and "Including CUDA backend" not in log  # sim's cuda: false
    # sim-02's is sim-01's build, copied: installed from it, no source or build tree on sim-02.
    copied = ssh(sim02, f"cat {LLAMA}/logs/$(basename $(readlink {LLAMA}/current)).log").stdout
    assert "installed from sim-01" in copied and "Including CPU backend" not in copied, copied
    assert ssh(sim02, f"test -e {LLAMA}/src || test -e {LLAMA}/work").returncode != 0
    assert current(sim02, LLAMA) == current(sim01, LLAMA)


def test_second_converge_does_not_rebuild(lab_units, built):
    stamp = f"stat -c %Y {LLAMA}/logs/*.log {WHISPER}/logs/*.log"
    before = ssh(lab_units[0], stamp).stdout
    again = converge(built)
    assert again.returncode == 0 and again.changed() == [], again.changed()
    assert ssh(lab_units[0], stamp).stdout == before


def test_ref_bump_rebuilds_and_switches_and_the_old_ref_switches_back(lab_units, built, tmp_path):
    unit = lab_units[0]
    old = current(unit, WHISPER)
    bumped = builds_only(tmp_path / "bump", **{unit.name: {"builds": {"whisper_cpp": {"ref": WHISPER_NEXT_TAG}}}})
    result = converge(bumped, "--limit", unit.name)
    assert result.returncode == 0, result.output[-4000:]
    new = current(unit, WHISPER)
    assert new == f"builds/{build_id(lab_whisper(WHISPER_NEXT_TAG))}" and new != old
    assert ssh(unit, f"{WHISPER}/current/bin/whisper-server --help").returncode == 0
    assert ssh(unit, f"test -d {WHISPER}/{old}").returncode == 0  # the previous build is kept
    # Back to the pinned ref: the kept build becomes current again, nothing is rebuilt.
    back = converge(built, "--limit", unit.name)
    assert back.returncode == 0 and current(unit, WHISPER) == old
    assert "bash /opt/thorfleet" not in back.output


@pytest.mark.parametrize("change,step", [
    ({"ref": "no-such-tag"}, "fetching no-such-tag from git://10.231.0.1/whisper.cpp.git"),
    ({"cmake_flags": {"CMAKE_CXX_COMPILER": "/usr/bin/false"}}, "cmake configure"),
])
def test_broken_ref_or_flag_fails_cleanly_and_current_stays(lab_units, built, tmp_path, change, step):
    unit = lab_units[0]
    before = current(unit, WHISPER)
    broken = builds_only(tmp_path, **{unit.name: {"builds": {"whisper_cpp": change}}})
    result = converge(broken, "--limit", unit.name)
    assert result.returncode != 0
    assert f"failed at: {step}" in result.output and "(current is unchanged)" in result.output
    assert "Traceback" not in result.output
    assert current(unit, WHISPER) == before
    assert ssh(unit, f"{WHISPER}/current/bin/whisper-server --help").returncode == 0


def test_a_source_archive_from_the_controller_builds_without_git(lab_units, built, tmp_path):
    """A unit that reaches no git server gets `git archive`'s tarball pushed instead."""
    unit = lab_units[0]
    before = current(unit, WHISPER)
    archive = tmp_path / "whisper.cpp-lab-next.tar.gz"
    subprocess.run(["git", f"--git-dir={layout.LAB / 'git/whisper.cpp.git'}", "archive", "--format=tar.gz",
                    "--prefix=whisper.cpp/", "-o", str(archive), WHISPER_NEXT_TAG], check=True)
    pushed = builds_only(tmp_path, **{unit.name: {"builds": {"whisper_cpp": {
        "ref": WHISPER_NEXT_TAG, "repo": "git://192.0.2.1/unreachable.git", "source_archive": str(archive)}}}})
    result = converge(pushed, "--limit", unit.name)
    assert result.returncode == 0, result.output[-4000:]
    assert current(unit, WHISPER) != before
    assert ssh(unit, f"cat {WHISPER}/current/commit").stdout.strip() == WHISPER_NEXT_TAG
    assert ssh(unit, f"{WHISPER}/current/bin/whisper-server --help").returncode == 0
    assert converge(built, "--limit", unit.name).returncode == 0 and current(unit, WHISPER) == before


def test_a_builder_with_more_operations_before_its_build_is_waited_for(lab_units, tmp_path):
    """sim-01 compiles for the fleet in the same deploy as sim-02 copies from it, with one operation
    more than sim-02 before its build (a Docker image to pull): sim-02 still copies only once
    sim-01's build is done (the builds' barrier), whatever pyinfra's order of the two."""
    inventory = builds_only(tmp_path, **{"sim-01": {"roles": ["base", "docker", "builds"],
                                                    "docker": {"pull_images": ["thorfleet-lab/vllm:standin"]}},
                                         "sim-02": {"roles": ["base", "docker", "builds"]}})
    for unit in lab_units[:2]:  # sim-01 compiles in this deploy (ccache makes it quick), sim-02 copies
        ssh(unit, f"sudo rm -rf {LLAMA} {WHISPER}")
    result = converge(inventory, "--limit", "sim-01", "--limit", "sim-02")
    assert result.returncode == 0, result.output[-4000:]
    assert "Builds compiled for the fleet" in result.output
    assert current(lab_units[1], LLAMA) == current(lab_units[0], LLAMA)
    closing = result.output.split("Artifacts placed by this deploy", 1)[1]  # the deploy's closing table
    build = current(lab_units[0], LLAMA).removeprefix("builds/")
    assert re.search(rf"│ sim-01 +│ llama.cpp {build} +│ +- │ +[\d.]+ │ compiled here +│ [\d.]+ s", closing), closing
    assert re.search(rf"│ sim-02 +│ llama.cpp {build} +│ +- │ +[\d.]+ │ the fleet's build \(copied\) +│ [\d.]+ s", closing), closing


def test_with_the_fleets_fan_out_a_cached_build_reaches_its_units_in_one_multicast_session(lab_units, built, tmp_path):
    """model_store.fetch: fleet: llama.cpp, which the controller's cache holds (copied off sim-01 by
    `built`), reaches sim-01 and sim-02 in one uftp session instead of one upload each; each unit checks
    the copy's sha256 before taking it, and a second deploy has nothing to send."""
    cache = built.parent.parent / "build-cache"
    fleet = {"model_store": {"fetch": "fleet", "serve_address": layout.CONTROLLER_ADDRESS,
                             "controller_cache": str(tmp_path / "models")}, "builds": {"controller_cache": str(cache)}}
    inventory = builds_only(tmp_path, **{"sim-01": fleet, "sim-02": fleet})
    wanted = build_id(load_fleet(ROOT / "inventory/sim.py", secrets=False).hosts["sim-01"].config.builds.llama_cpp)
    assert (cache / "llama.cpp" / f"{wanted}.json").is_file()  # cached: compiled nowhere, copied to both
    for unit in lab_units[:2]:
        ssh(unit, f"sudo rm -rf {LLAMA}")
    result = converge(inventory)
    assert result.returncode == 0, result.output[-4000:]
    assert "sent once to 2 units" in result.output, result.output[-4000:]
    closing = result.output.split("Artifacts placed by this deploy", 1)[1]
    for unit in lab_units[:2]:
        assert f"[{unit.name}] fan-out: 1 of 1 builds files received by multicast" in result.output
        assert current(unit, LLAMA) == f"builds/{wanted}"
        assert ssh(unit, f"{LLAMA}/current/bin/llama-server --version").returncode == 0
        assert ssh(unit, "test -e /opt/thorfleet/builds/.thorfleet-incoming").returncode != 0  # cleared
        assert re.search(rf"│ {unit.name} +│ llama.cpp {wanted} +│ +- │ +[\d.]+ │ the fleet's build \(fan-out\) ", closing), closing
    again = converge(inventory)
    assert again.returncode == 0 and again.changed() == [], again.changed()
    assert "sent once" not in again.output
