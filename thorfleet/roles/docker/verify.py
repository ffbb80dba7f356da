"""The docker role on each unit: daemon.json, the default runtime, the docker group, images."""

import json

from thorfleet.core.checks import CheckedUnit
from thorfleet.core.fleet import IMAGE_MIRRORS
from thorfleet.roles.docker.files import DAEMON_JSON, merge_daemon_json, owned_settings
from thorfleet.roles.docker.operations import image_ref


def test_daemon_json_has_thorfleets_settings(unit: CheckedUnit) -> None:
    with unit.host.sudo():
        settings = json.loads(unit.host.file(DAEMON_JSON).content_string)
    assert merge_daemon_json(settings, owned_settings(unit.config.docker, unit.fleet.fact(IMAGE_MIRRORS))) == settings


def test_docker_runs_with_the_configured_default_runtime(unit: CheckedUnit) -> None:
    with unit.host.sudo():
        runtime = unit.host.check_output("docker info --format '{{.DefaultRuntime}}'")
    assert unit.host.service("docker").is_running
    assert runtime == unit.config.docker.default_runtime


def test_users_are_in_the_docker_group(unit: CheckedUnit) -> None:
    docker = unit.config.docker
    users = ([unit.host.user().name] if docker.add_login_user else []) + docker.users
    for user in users:
        assert "docker" in unit.host.user(user).groups, f"{user} is not in the docker group"


def test_configured_images_are_present(unit: CheckedUnit) -> None:
    docker = unit.config.docker
    with unit.host.sudo():
        present = unit.host.check_output("docker image ls --format '{{.Repository}}:{{.Tag}}'").split()
    missing = [i for i in [*docker.pull_images, *docker.image_archives] if image_ref(i) not in present]
    assert not missing, f"missing images: {missing}"
