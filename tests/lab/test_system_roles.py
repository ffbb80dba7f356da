"""base, power and docker on lab units: converge, converge again with no change, verify, faults."""

import json
import time

import pytest

from thorfleet.roles.docker.files import DAEMON_JSON
from thorfleet.lab import faults
from thorfleet.fleet import load_fleet
from thorfleet.verify import run_suite

from .helpers import converge, project_with, ssh

pytestmark = pytest.mark.lab
SYSTEM_ROLES = ["base", "power", "docker"]


def system_only(tmp_path, **host_vars):
    """The sim inventory, applying only the system roles (the later roles have tests of their own)."""
    per_host = {name: {"roles": SYSTEM_ROLES, **extra} for name, extra in host_vars.items()}
    for name in ("sim-01", "sim-02", "sim-03"):
        per_host.setdefault(name, {"roles": SYSTEM_ROLES})
    return project_with(tmp_path, per_host)


def daemon_json(unit) -> str:
    return ssh(unit, f"sudo cat {DAEMON_JSON}").stdout


def docker_runtime(unit) -> str:
    return ssh(unit, "sudo docker info --format '{{.DefaultRuntime}}'").stdout.strip()


@pytest.fixture(scope="module")
def inventory(lab_units, tmp_path_factory):
    return system_only(tmp_path_factory.mktemp("system"))


def test_converge_then_a_second_run_changes_nothing_and_verify_passes(inventory):
    first = converge(inventory)
    assert first.returncode == 0, first.output[-3000:]
    second = converge(inventory)
    assert second.returncode == 0, second.output[-3000:]
    assert second.changed() == [], f"changed on the second run: {second.changed()}"
    hosts = ["sim-01", "sim-02", "sim-03"]
    status, per_host, failures = run_suite(load_fleet(inventory), None, hosts)
    assert status == 0, failures
    assert all(per_host[h]["passed"] and not per_host[h]["skipped"] for h in hosts), per_host


def test_unrelated_daemon_json_keys_are_kept(lab_units, inventory):
    unit = lab_units[2]
    existing = {"debug": True, "runtimes": {"lab-extra": {"path": "/usr/bin/runc"}}}
    ssh(unit, f"echo '{json.dumps(existing)}' | sudo tee {DAEMON_JSON} >/dev/null")
    result = converge(inventory, "--limit", unit.name)
    assert result.returncode == 0, result.output[-3000:]
    merged = json.loads(daemon_json(unit))
    assert merged["debug"] is True and set(merged["runtimes"]) == {"lab-extra", "nvidia"}
    assert merged["default-runtime"] == "nvidia" and docker_runtime(unit) == "nvidia"
    backups = ssh(unit, f"ls {DAEMON_JSON}.thorfleet-backup-*").stdout.split()
    assert backups, "no timestamped backup of the previous daemon.json"


def test_broken_daemon_json_is_reported_and_left_alone(lab_units, inventory):
    unit = lab_units[2]
    before = daemon_json(unit)
    broken = '{"debug": true,\n'
    ssh(unit, f"printf '%s' '{broken}' | sudo tee {DAEMON_JSON} >/dev/null")
    try:
        result = converge(inventory, "--limit", unit.name)
        assert result.returncode != 0
        assert f"{DAEMON_JSON} is not valid JSON" in result.output and "will not overwrite it blindly" in result.output
        assert "Traceback" not in result.output
        assert daemon_json(unit) == broken
    finally:
        ssh(unit, f"printf '%s' '{before}' | sudo tee {DAEMON_JSON} >/dev/null")


def test_daemon_json_that_stops_docker_is_rolled_back(lab_units, tmp_path):
    unit = lab_units[2]
    before = daemon_json(unit)
    # dockerd --validate accepts this data-root, but Docker cannot start on it.
    bad = system_only(tmp_path, **{unit.name: {"roles": SYSTEM_ROLES, "docker": {"data_root": "/proc/thorfleet-docker"}}})
    result = converge(bad, "--limit", unit.name)
    assert result.returncode != 0
    assert "Docker did not start with the new daemon.json, the previous one is back" in result.output
    assert daemon_json(unit) == before
    assert ssh(unit, "systemctl is-active docker").stdout.strip() == "active"
    assert docker_runtime(unit) == "nvidia"


def wait_for_locked_clocks(unit, timeout=60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        show = ssh(unit, "sudo jetson_clocks --show").stdout
        if "GPU" in show and all(_min(line) == _max(line) for line in show.splitlines() if "MinFreq" in line):
            return show
        time.sleep(1)
    raise AssertionError(f"clocks not locked {timeout} s after boot:\n{show}")


def _min(line):
    return line.split("MinFreq=")[1].split()[0]


def _max(line):
    return line.split("MaxFreq=")[1].split()[0]


def test_after_a_reboot_the_mode_holds_and_clocks_lock_again(lab_units, inventory):
    unit = lab_units[1]
    assert converge(inventory, "--limit", unit.name).returncode == 0
    faults.reboot(unit)
    wait_for_locked_clocks(unit)
    assert ssh(unit, "nvpmodel -q").stdout.splitlines()[0] == "NV Power Mode: MAXN"
    assert ssh(unit, "systemctl is-active thorfleet-jetson-clocks.service").stdout.strip() == "active"
    again = converge(inventory, "--limit", unit.name)
    assert again.returncode == 0 and again.changed() == []


def test_a_mode_that_needs_a_reboot_stops_or_reboots_as_configured(lab_units, tmp_path):
    unit = lab_units[1]
    boot_id = ssh(unit, "cat /proc/sys/kernel/random/boot_id").stdout
    refused = system_only(tmp_path / "refused", **{unit.name: {"power": {"mode": "LAB_REBOOT"}}})
    result = converge(refused, "--limit", unit.name)
    assert result.returncode != 0
    assert "nvpmodel must reboot the unit to switch from MAXN to LAB_REBOOT (2); the mode was not changed" in result.output
    assert "power.allow_reboot: true" in result.output and "Traceback" not in result.output
    assert ssh(unit, "nvpmodel -q").stdout.splitlines()[0] == "NV Power Mode: MAXN"
    assert ssh(unit, "cat /proc/sys/kernel/random/boot_id").stdout == boot_id

    allowed = system_only(tmp_path / "allowed", **{unit.name: {"power": {"mode": "LAB_REBOOT", "allow_reboot": True}}})
    result = converge(allowed, "--limit", unit.name)
    assert result.returncode == 0, result.output[-3000:]
    assert ssh(unit, "nvpmodel -q").stdout.splitlines()[0] == "NV Power Mode: LAB_REBOOT"
    assert ssh(unit, "cat /proc/sys/kernel/random/boot_id").stdout != boot_id
    wait_for_locked_clocks(unit)

    back = system_only(tmp_path / "back", **{unit.name: {"power": {"allow_reboot": True}}})
    result = converge(back, "--limit", unit.name)
    assert result.returncode == 0, result.output[-3000:]
    assert ssh(unit, "nvpmodel -q").stdout.splitlines()[0] == "NV Power Mode: MAXN"


def test_a_missing_image_is_loaded_from_the_controllers_archive(lab_units, inventory):
    unit = lab_units[2]
    assert ssh(unit, "sudo docker rmi thorfleet-lab/ollama:standin").returncode == 0
    result = converge(inventory, "--limit", unit.name)
    assert result.returncode == 0, result.output[-3000:]
    assert result.changed() == ["docker | Docker images"]
    assert ssh(unit, "sudo docker image inspect thorfleet-lab/ollama:standin").returncode == 0
    assert converge(inventory, "--limit", unit.name).changed() == []


def test_clocks_default_gives_the_clocks_back_and_removes_the_unit(lab_units, inventory, tmp_path):
    unit = lab_units[2]
    assert converge(inventory, "--limit", unit.name).returncode == 0  # locked, as configured by default
    default = system_only(tmp_path, **{unit.name: {"power": {"clocks": "default"}}})
    result = converge(default, "--limit", unit.name)
    assert result.returncode == 0, result.output[-3000:]
    show = ssh(unit, "sudo jetson_clocks --show | grep ^GPU").stdout
    assert show == "GPU Online=1 MinFreq=306000000 MaxFreq=1575000000 CurrentFreq=306000000\n"
    assert ssh(unit, "systemctl cat thorfleet-jetson-clocks.timer").returncode != 0
    assert converge(default, "--limit", unit.name).changed() == []
    assert converge(inventory, "--limit", unit.name).returncode == 0  # locked again
    assert "MinFreq=1575000000 MaxFreq=1575000000" in ssh(unit, "sudo jetson_clocks --show | grep ^GPU").stdout
