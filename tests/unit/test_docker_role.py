"""The docker role: the daemon.json fact and the merge operation, with fake facts."""

import re
import json

import pytest

from thorfleet.core.closing_table import placements
from thorfleet.roles.docker.facts import DaemonJson, DockerDefaultRuntime, DockerImages
from thorfleet.roles.docker.files import DAEMON_JSON, owned_settings
from thorfleet.roles.docker.operations import (
    CANDIDATE, daemon_json, default_runtime, docker_group, image_ref, images, runtime_check,
)
from thorfleet.fleet.schema import HostConfig

from .fake_host import LocalUnit, failure_of, fake_state, run_operation

OWNED = owned_settings(HostConfig().docker, [])


def fact(settings=None, exists=True, error=None):
    return {"DaemonJson": {"exists": exists, "settings": settings if settings is not None else {}, "error": error}}


def test_fact_parses_present_absent_empty_and_broken_files():
    parse = DaemonJson().process
    assert parse(["absent"]) == {"exists": False, "settings": {}, "error": None}
    assert parse(["present"]) == {"exists": True, "settings": {}, "error": None}
    assert parse(["present", '{"debug": true,', '"runtimes": {}}'])["settings"] == {"debug": True, "runtimes": {}}
    broken = parse(["present", '{"debug": true'])
    assert broken["settings"] is None and broken["error"].startswith("line 1")
    assert parse(["present", "[1, 2]"])["error"] == "the top level is not a JSON object"


def test_already_merged_file_gives_no_commands():
    existing = {**OWNED, "debug": True}
    commands, noops = run_operation(daemon_json, fact(existing), OWNED)
    assert commands == []
    assert noops == [f"{DAEMON_JSON} already has thorfleet's settings"]


def test_unrelated_keys_and_runtimes_are_kept():
    existing = {"debug": True, "runtimes": {"crun": {"path": "/usr/bin/crun"}}, "default-runtime": "runc"}
    commands, noops = run_operation(daemon_json, fact(existing), OWNED)
    assert noops == []
    uploads = [c for c in commands if isinstance(c, tuple)]
    assert [dest for dest, _ in uploads] == [CANDIDATE]
    written = json.loads(uploads[0][1])
    assert written["debug"] is True
    assert written["default-runtime"] == "nvidia"
    assert set(written["runtimes"]) == {"crun", "nvidia"}


def test_new_file_is_validated_before_it_replaces_the_old_one_and_a_backup_is_kept():
    commands, _ = run_operation(daemon_json, fact({"debug": True}), OWNED)
    shell = [c for c in commands if isinstance(c, str)]
    validate = next(i for i, c in enumerate(shell) if c.startswith(f"dockerd --validate --config-file {CANDIDATE}"))
    install = next(i for i, c in enumerate(shell) if f"mv {CANDIDATE} {DAEMON_JSON}" in c)
    assert validate < install
    assert "cp -a /etc/docker/daemon.json \"$backup\"" in shell[install]
    assert "thorfleet-backup-$(date +%Y%m%dT%H%M%S)" in shell[install]
    # Docker restarts with the new file; when it will not start, the backup goes back.
    assert "if ! systemctl restart docker; then" in shell[install]
    assert f'cp -a "$backup" {DAEMON_JSON}' in shell[install]


def test_missing_file_is_created_and_removed_again_if_docker_fails():
    commands, _ = run_operation(daemon_json, fact(exists=False), OWNED)
    install = [c for c in commands if isinstance(c, str) and f"mv {CANDIDATE}" in c][0]
    assert "cp -a" not in install.split("then")[0]
    assert f"rm -f {DAEMON_JSON}" in install


def test_broken_existing_file_is_not_overwritten():
    commands, _ = run_operation(daemon_json, fact(error="line 3, column 1: Expecting ',' delimiter"), OWNED)
    assert re.search("is not valid JSON .line 3, column 1: Expecting.*will not overwrite it blindly", failure_of(commands))


def test_owned_settings_follow_the_config():
    config = HostConfig.model_validate({"docker": {"registry_mirrors": ["https://mirror.example"], "data_root": "/mnt/nvme/docker"}})
    owned = owned_settings(config.docker, [])
    assert owned["registry-mirrors"] == ["https://mirror.example"]
    fleet_first = owned_settings(config.docker, ["http://10.0.0.3:5000", "https://mirror.example"])
    assert fleet_first["registry-mirrors"] == ["http://10.0.0.3:5000", "https://mirror.example"]  # each once
    assert owned["data-root"] == "/mnt/nvme/docker"
    assert "registry-mirrors" not in OWNED and "data-root" not in OWNED


def test_docker_facts_parse_docker_output():
    assert DockerDefaultRuntime().process(["nvidia"]) == "nvidia"
    assert DockerDefaultRuntime().process([]) is None
    names = DockerImages().process(["ubuntu:24.04 ubuntu@sha256:abc", "<none>:<none> <none>@<none>"])
    assert names == ["ubuntu:24.04", "ubuntu@sha256:abc"]


def test_default_runtime_right_gives_no_commands_else_restart_and_check():
    commands, noops = run_operation(default_runtime, {"DockerDefaultRuntime": "nvidia"}, "nvidia")
    assert commands == [] and noops == ["docker info reports the default runtime nvidia"]
    commands, _ = run_operation(default_runtime, {"DockerDefaultRuntime": "runc"}, "nvidia")
    assert commands[0] == "systemctl restart docker && " + runtime_check("nvidia")
    assert 'expected=nvidia;' in commands[0] and '[ "$runtime" = "$expected" ]' in commands[0]


def test_merge_checks_the_runtime_after_the_restart():
    commands, _ = run_operation(daemon_json, fact({}), OWNED)
    assert commands[-1] == runtime_check("nvidia")


def test_docker_group():
    users = {"nvidia": ["nvidia", "sudo"], "ci": ["ci", "docker"]}
    commands, _ = run_operation(docker_group, {"Accounts": {"users": users, "groups": {}}}, ["nvidia", "ci"])
    assert commands == ["usermod -aG docker nvidia"]
    users["nvidia"].append("docker")
    commands, noops = run_operation(docker_group, {"Accounts": {"users": users, "groups": {}}}, ["nvidia", "ci"])
    assert commands == [] and noops == ["nvidia, ci in the docker group"]
    commands, _ = run_operation(docker_group, {"Accounts": {"users": {"ghost": None}, "groups": {}}}, ["ghost"])
    assert re.search("user 'ghost' .docker.users. does not exist", failure_of(commands))


def test_image_refs_follow_docker_image_ls():
    assert image_ref("ubuntu") == "ubuntu:latest"
    assert image_ref("docker.io/library/ubuntu:24.04") == "ubuntu:24.04"
    assert image_ref("nvcr.io/nvidia/vllm:25.10-py3") == "nvcr.io/nvidia/vllm:25.10-py3"
    assert image_ref("localhost:5000/x") == "localhost:5000/x:latest"


def test_present_images_give_no_commands():
    facts = {"DockerImages": ["nvcr.io/nvidia/vllm:25.10-py3"]}
    commands, noops = run_operation(images, facts, ["nvcr.io/nvidia/vllm:25.10-py3"], {})
    assert commands == [] and noops == ["all 1 images are present"]


def test_missing_images_are_pulled_with_retries():
    state = fake_state()
    commands, _ = run_operation(images, {"DockerImages": []}, ["nvcr.io/nvidia/vllm:25.10-py3"], {}, registry="the mirror",
                                pyinfra_state=state)
    assert placements(state).units["thor-01"].images == {"nvcr.io/nvidia/vllm:25.10-py3": "pulled (the mirror)"}
    assert len(commands) == 1
    assert commands[0].startswith("image=nvcr.io/nvidia/vllm:25.10-py3; for attempt in $(seq 4); do docker pull \"$image\" && break;")
    assert "sleep $((attempt * 15))" in commands[0]


def test_archives_are_pushed_and_loaded_once_for_all_their_images(tmp_path):
    archive = tmp_path / "standins.tar"
    archive.write_bytes(b"tar")
    archives = {"lab/a:1": str(archive), "lab/b:1": str(archive)}
    commands, _ = run_operation(images, {"DockerImages": []}, [], archives)
    assert commands == [
        ("/var/tmp/thorfleet-standins.tar", str(archive)),
        "docker load -i /var/tmp/thorfleet-standins.tar; status=$?; rm -f /var/tmp/thorfleet-standins.tar; exit $status",
    ]
    commands, _ = run_operation(images, {"DockerImages": []}, [], {"lab/c:1": "/nope.tar"})
    assert re.search(r"docker.image_archives\['lab/c:1'\]: /nope.tar is not a file on the controller", failure_of(commands))



# With model_store.fetch: fleet, archives travel in the fleet's multicast session (core/fanout.py).

def test_with_the_fleets_fan_out_a_unit_receives_only_the_archives_of_images_it_lacks(tmp_path):
    from types import SimpleNamespace

    from thorfleet.core import fanout
    from thorfleet.roles.docker.operations import archives_fanned_out

    first, second = tmp_path / "first.tar", tmp_path / "second.tar"
    first.write_bytes(b"tar")
    second.write_bytes(b"tar")
    archives = {"lab/a:1": str(first), "lab/b:1": str(first), "lab/c:1": str(second)}
    store = HostConfig.model_validate({"model_store": {"fetch": "fleet", "serve_address": "10.231.0.1"}}).model_store
    commands, _ = run_operation(archives_fanned_out, {"DockerImages": ["lab/c:1"]}, [], archives, store, "10.231.0.12")
    assert len(commands) == 1 and commands[0].startswith("FunctionCommand(receive")
    assert repr([str(first).lstrip("/")]) in commands[0]  # named by its path on the controller, once for both images
    state = SimpleNamespace(config=SimpleNamespace(DIFF=False))
    commands, noops = run_operation(archives_fanned_out, {"DockerImages": ["lab/a:1", "lab/b:1", "lab/c:1"]}, [], archives,
                                    store, "10.231.0.12", pyinfra_state=state)
    assert commands == [] and noops == ["all 3 archived images are present: nothing to receive"]
    assert fanout.session(state, "images").answered == {"thor-01"}
    commands, _ = run_operation(images, {"DockerImages": []}, [], {"lab/a:1": str(first)}, fanned=True)
    assert commands[0].startswith("FunctionCommand(take_archive") and commands[1].startswith("docker load -i /var/tmp/thorfleet-first.tar")


@pytest.mark.parametrize("arrived", ["whole", "damaged", "missing"])
def test_a_unit_loads_the_fan_outs_archive_only_when_its_sha256_is_the_controllers(tmp_path, monkeypatch, arrived):
    from thorfleet.roles.docker import operations

    local = tmp_path / "controller/standins.tar"
    local.parent.mkdir()
    local.write_bytes(b"the images")
    into = tmp_path / "incoming"
    monkeypatch.setattr(operations, "ARCHIVES_DELIVERY", operations.fanout.Delivery("images", "/", str(into)))
    received = into / str(local).lstrip("/")
    received.parent.mkdir(parents=True)
    if arrived != "missing":
        received.write_bytes(b"the images" if arrived == "whole" else b"the imageS")
    unit, remote, state = LocalUnit(), tmp_path / "unit.tar", fake_state()
    assert operations.take_archive(state, unit, local, str(remote), ["lab/a:1"])
    assert remote.read_bytes() == b"the images" and not received.exists()
    assert unit.uploaded == ([] if arrived == "whole" else [(str(local), str(remote))])
    how = "archive (fan-out)" if arrived == "whole" else "archive (upload)"  # what the closing table says
    assert placements(state).units["thor-01"].images == {"lab/a:1": how}
