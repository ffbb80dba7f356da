"""The builds role: llama.cpp and whisper.cpp built on the unit for the engines it runs (seeds 000, 001)."""

from pyinfra.api import deploy

from thorfleet.roles.builds.files import ENGINES, build_id
from thorfleet.roles.builds.operations import engine_build


@deploy("builds")
def apply(config) -> None:
    builds = config.builds
    for key in config.needed_builds():
        build = getattr(builds, key)
        engine_build(name=f"Build {ENGINES[key]} {build.ref} ({build_id(build)})", key=key, build=build,
                     root=builds.root, keep=builds.keep, cuda_home=builds.cuda_home, _sudo=True)
