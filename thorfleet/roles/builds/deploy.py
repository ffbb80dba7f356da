"""The builds role: llama.cpp and whisper.cpp built on the unit for the engines it runs (seeds 000, 001)."""

from pyinfra.api.deploy import deploy
from pyinfra.context import state

from thorfleet.core.barrier import barrier
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.roles.builds.files import ENGINES, build_id
from thorfleet.roles.builds.fleet import needed_builds
from thorfleet.roles.builds.operations import engine_build, engine_build_copied
from thorfleet.roles.builds.shared import source_of


@deploy("builds")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    """Each build the unit needs: compiled here when this unit builds it for the fleet (or shares
    nothing), then, once every builder is done (a barrier: core/barrier.py), copied from its builder
    onto the others; one the controller's cache holds already is
    copied from there onto every unit that shares, and compiled nowhere."""
    builds = unit.config.builds
    reached = {h.name for h in state.activated_hosts}
    builders = {key: source_of(unit, fleet, key, reached) for key in needed_builds(unit, fleet)}
    for key, builder in builders.items():
        build = getattr(builds, key)
        if builder == unit.name:
            engine_build(name=f"Build {ENGINES[key]} {build.ref} ({build_id(build)})", key=key, build=build,
                         root=builds.root, keep=builds.keep, cuda_home=builds.cuda_home, _sudo=True)
    if builds.share and builders:
        barrier(name="Builds compiled for the fleet", what="every build the fleet shares compiled")
    for key, builder in builders.items():
        build = getattr(builds, key)
        if builder != unit.name:
            engine_build_copied(name=f"Copy {ENGINES[key]} {build.ref} ({build_id(build)}) from {builder}", key=key,
                                build=build, root=builds.root, keep=builds.keep, builder=builder,
                                cache=builds.controller_cache, _sudo=True)
