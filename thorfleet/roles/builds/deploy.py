"""The builds role: llama.cpp and whisper.cpp built on the unit for the engines it runs (seeds 000, 001)."""

from pyinfra.api.deploy import deploy
from pyinfra.context import state
from pyinfra.operations import files

from thorfleet.core import fanout
from thorfleet.core.barrier import barrier
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.roles.builds.files import ENGINES, build_id
from thorfleet.roles.builds.fleet import needed_builds
from thorfleet.roles.builds.operations import engine_build, engine_build_copied, fanned_out
from thorfleet.roles.builds.shared import fanout_delivery, source_of


@deploy("builds")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    """Each build the unit needs: compiled here when this unit builds it for the fleet (or shares
    nothing), then, once every builder is done (a barrier: core/barrier.py), copied from its builder
    onto the others; one the controller's cache holds already is
    copied from there onto every unit that shares, and compiled nowhere. With `model_store.fetch: fleet`
    the copies travel in one multicast session (core/fanout.py) rather than one upload per unit."""
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
    copies = {key: (getattr(builds, key), builder) for key, builder in builders.items() if builder != unit.name}
    store = unit.config.model_store
    fanned = bool(copies) and store.fetch == "fleet"
    if fanned:
        fanout.prepare(state, "builds", unit.name, store)
        fanned_out(name="Builds fanned out from the controller (multicast)", copies=copies, root=builds.root,
                   cache=builds.controller_cache, store=store, address=unit.address, _sudo=True)
    for key, (build, builder) in copies.items():
        engine_build_copied(name=f"Copy {ENGINES[key]} {build.ref} ({build_id(build)}) from {builder}", key=key,
                            build=build, root=builds.root, keep=builds.keep, builder=builder,
                            cache=builds.controller_cache, fanned=fanned, _sudo=True)
    if fanned:
        files.directory(name="The builds' fan-out folder cleared", path=fanout_delivery(builds.root, builds.controller_cache).into,
                        present=False, _sudo=True)
