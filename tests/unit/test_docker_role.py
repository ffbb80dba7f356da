"""The docker role: the daemon.json fact and the merge operation, with fake facts."""

import json

import pytest
from pyinfra.api import OperationError

from roles.docker.facts import DaemonJson
from roles.docker.files import DAEMON_JSON, owned_settings
from roles.docker.operations import CANDIDATE, daemon_json
from thorfleet.config.schema import HostConfig

from .fake_host import run_operation

OWNED = owned_settings(HostConfig().docker)


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
    with pytest.raises(OperationError, match="is not valid JSON .line 3, column 1: Expecting.*will not overwrite it blindly"):
        run_operation(daemon_json, fact(error="line 3, column 1: Expecting ',' delimiter"), OWNED)


def test_owned_settings_follow_the_config():
    config = HostConfig.model_validate({"docker": {"registry_mirrors": ["https://mirror.example"], "data_root": "/mnt/nvme/docker"}})
    owned = owned_settings(config.docker)
    assert owned["registry-mirrors"] == ["https://mirror.example"]
    assert owned["data-root"] == "/mnt/nvme/docker"
    assert "registry-mirrors" not in OWNED and "data-root" not in OWNED
