"""The builds role: llama.cpp and whisper.cpp built on the unit for the engines it runs (seeds 000, 001)."""

from pyinfra.api.deploy import deploy

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.roles.builds.files import ENGINES, build_id
from thorfleet.roles.builds.fleet import needed_builds
from thorfleet.roles.builds.operations import engine_build


@deploy("builds")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    builds = unit.config.builds
    for key in needed_builds(unit, fleet):
        build = getattr(builds, key)
        engine_build(name=f"Build {ENGINES[key]} {build.ref} ({build_id(build)})", key=key, build=build,
                     root=builds.root, keep=builds.keep, cuda_home=builds.cuda_home, _sudo=True)
