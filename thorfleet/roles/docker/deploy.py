"""The docker role: Docker's nvidia runtime in daemon.json (seed 002), the docker group, images."""

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.server import User

from thorfleet.core.fleet import FleetHost, FleetView, endpoints_of
from thorfleet.roles.docker.files import DAEMON_JSON, owned_settings
from thorfleet.roles.docker.operations import daemon_json, default_runtime, docker_group, images


@deploy("docker")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    docker = config.docker
    merged = daemon_json(name=f"Merge thorfleet's keys into {DAEMON_JSON}", owned=owned_settings(docker), _sudo=True)
    # After a merge Docker was restarted and checked already; otherwise check it runs the file as it is.
    default_runtime(name=f"Docker's default runtime is {docker.default_runtime}", expected=docker.default_runtime,
                    _sudo=True, _if=merged.did_not_change)
    users = ([host.get_fact(User)] if docker.add_login_user else []) + docker.users
    if users:
        docker_group(name="docker group", users=users, _sudo=True)
    # The images the unit's container engines run come with the rest (an archive of one is loaded instead).
    engine_images = [e.image for e in endpoints_of(fleet, unit.name) if e.deployed and e.image and e.image not in docker.image_archives]
    pull = sorted(set(docker.pull_images) | set(engine_images))
    if pull or docker.image_archives:
        images(name="Docker images", pull=pull, archives=docker.image_archives, _sudo=True)
