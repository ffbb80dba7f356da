"""The part of /etc/docker/daemon.json that thorfleet owns; the deploy merges it into the unit's file."""

from typing import Any

from thorfleet.core.fleet import IMAGE_MIRRORS, FleetHost, FleetView
from thorfleet.core.render import RenderedFile, render_template
from thorfleet.roles.docker.config import DockerConfig

DAEMON_JSON = "/etc/docker/daemon.json"


def owned_settings(docker: DockerConfig, fleet_mirrors: list[str]) -> dict[str, Any]:
    """The daemon.json keys thorfleet sets; every other key in the unit's file is left as it is.
    `fleet_mirrors`: the fleet's image mirrors (the image_mirror role), asked before the configured ones."""
    owned: dict[str, Any] = {"default-runtime": docker.default_runtime, "log-driver": docker.log_driver}
    if docker.nvidia_runtime:
        owned["runtimes"] = {"nvidia": {"path": docker.runtime_path, "args": []}}
    if docker.log_opts:
        owned["log-opts"] = dict(docker.log_opts)
    mirrors = list(dict.fromkeys([*fleet_mirrors, *docker.registry_mirrors]))
    if mirrors:
        owned["registry-mirrors"] = mirrors
    if docker.data_root:
        owned["data-root"] = docker.data_root
    return owned


def merge_daemon_json(existing: dict[str, Any], owned: dict[str, Any]) -> dict[str, Any]:
    """The unit's daemon.json with thorfleet's keys set; `runtimes` keeps other runtimes."""
    merged = dict(existing)
    for key, value in owned.items():
        if key == "runtimes" and isinstance(existing.get("runtimes"), dict):
            merged["runtimes"] = {**existing["runtimes"], **value}
        else:
            merged[key] = value
    return merged


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    config = unit.config
    content = render_template("roles/docker/daemon.json.j2", settings=owned_settings(config.docker, fleet.fact(IMAGE_MIRRORS)))
    return [RenderedFile(DAEMON_JSON, content, role="docker", merged=True)]
