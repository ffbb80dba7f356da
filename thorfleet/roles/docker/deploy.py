"""The docker role: Docker's nvidia runtime in daemon.json (seed 002), the docker group, images."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.server import User

from thorfleet.roles.docker.files import DAEMON_JSON, owned_settings
from thorfleet.roles.docker.operations import daemon_json, default_runtime, docker_group, images


@deploy("docker")
def apply(config) -> None:
    docker = config.docker
    merged = daemon_json(name=f"Merge thorfleet's keys into {DAEMON_JSON}", owned=owned_settings(docker), _sudo=True)
    # After a merge Docker was restarted and checked already; otherwise check it runs the file as it is.
    default_runtime(name=f"Docker's default runtime is {docker.default_runtime}", expected=docker.default_runtime,
                    _sudo=True, _if=merged.did_not_change)
    users = ([host.get_fact(User)] if docker.add_login_user else []) + docker.users
    if users:
        docker_group(name="docker group", users=users, _sudo=True)
    if docker.pull_images or docker.image_archives:
        images(name="Docker images", pull=docker.pull_images, archives=docker.image_archives, _sudo=True)
