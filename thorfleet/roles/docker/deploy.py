"""The docker role: Docker's nvidia runtime in daemon.json (seed 002), the docker group, images."""

from pyinfra.api.deploy import deploy
from pyinfra.context import host, state
from pyinfra.facts.server import User
from pyinfra.operations import files

from thorfleet.core import fanout
from thorfleet.core.fleet import IMAGE_MIRRORS, FleetHost, FleetView, endpoints_of
from thorfleet.roles.docker.files import DAEMON_JSON, owned_settings
from thorfleet.roles.docker.operations import (ARCHIVES_DELIVERY, archives_fanned_out, daemon_json, default_runtime,
                                               docker_group, images)


@deploy("docker")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    docker = config.docker
    merged = daemon_json(name=f"Merge thorfleet's keys into {DAEMON_JSON}", owned=owned_settings(docker, fleet.fact(IMAGE_MIRRORS)), _sudo=True)
    # After a merge Docker was restarted and checked already; otherwise check it runs the file as it is.
    default_runtime(name=f"Docker's default runtime is {docker.default_runtime}", expected=docker.default_runtime,
                    _sudo=True, _if=merged.did_not_change)
    users = ([host.get_fact(User)] if docker.add_login_user else []) + docker.users
    if users:
        docker_group(name="docker group", users=users, _sudo=True)
    pull = images_pulled(unit, fleet)
    if fleet.fact(IMAGE_MIRRORS):
        # One unit per image first, then the others: a mirror that misses a layer fetches it upstream for
        # every client asking at that moment, and only once for a unit that asks alone.
        reached = {h.name for h in state.activated_hosts}
        first = [i for i in pull if first_puller(fleet, i, reached) == unit.name]
        if first:
            images(name="Docker images: each first by one unit, through the mirror", pull=first, archives={},
                   registry="the mirror", _sudo=True)
    store = config.model_store
    fanned = bool(docker.image_archives) and store.fetch == "fleet"  # archives travel as models do
    if fanned:
        fanout.prepare(state, "images", unit.name, store)
        archives_fanned_out(name="Image archives fanned out from the controller (multicast)", pull=pull,
                            archives=docker.image_archives, store=store, address=unit.address, _sudo=True)
    if pull or docker.image_archives:
        images(name="Docker images", pull=pull, archives=docker.image_archives, fanned=fanned,
               registry="the mirror" if fleet.fact(IMAGE_MIRRORS) else "a registry", _sudo=True)
    if fanned:
        files.directory(name="The image archives' fan-out folder cleared", path=ARCHIVES_DELIVERY.into, present=False,
                        _sudo=True)


def images_pulled(unit: FleetHost, fleet: FleetView) -> list[str]:
    """What the unit pulls: its own list and the images its container engines run (an archive of one is loaded instead)."""
    docker = unit.config.docker
    engine_images = [e.image for e in endpoints_of(fleet, unit.name) if e.deployed and e.image and e.image not in docker.image_archives]
    return sorted(set(docker.pull_images) | set(engine_images))


def first_puller(fleet: FleetView, image: str, reached: set[str]) -> str | None:
    """The first unit in the inventory, among those the deploy reaches, that pulls `image`."""
    return next((h.name for h in fleet.hosts.values()
                 if h.name in reached and h.applies("docker") and image in images_pulled(h, fleet)), None)
