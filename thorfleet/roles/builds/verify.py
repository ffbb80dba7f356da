"""The builds of each unit: the CUDA toolkit that CUDA builds use, and the pinned ref in use."""

import json

from thorfleet.core.checks import BuildCase, for_each_build
from thorfleet.roles.builds.facts import CudaToolkit
from thorfleet.roles.builds.files import ENGINES
from thorfleet.roles.builds.operations import cuda_problem


@for_each_build(lambda build: build.cuda)
def test_cuda_toolkit_is_where_the_builds_look_and_targets_their_architectures(build_case: BuildCase) -> None:
    """The same fact and judgement as the deploy's pre-flight, and nvcc reports its release."""
    unit, key, build = build_case
    cuda_home = unit.config.builds.cuda_home
    toolkit = CudaToolkit().process(unit.host.check_output(CudaToolkit().command(cuda_home)).splitlines())
    assert cuda_problem(key, build, cuda_home, toolkit) is None, cuda_problem(key, build, cuda_home, toolkit)
    assert toolkit is not None and "release" in toolkit["version"], toolkit


@for_each_build()
def test_current_build_is_the_pinned_ref(build_case: BuildCase) -> None:
    """What the unit's engines run (`current`) was built from the configured ref."""
    unit, key, build = build_case
    current = f"{unit.config.builds.root}/{ENGINES[key]}/current"
    assert json.loads(unit.host.file(f"{current}/stamp.json").content_string)["ref"] == build.ref
    if len(build.ref) == 40:  # a commit pin: the source really was that commit
        assert unit.host.file(f"{current}/commit").content_string.strip() == build.ref
