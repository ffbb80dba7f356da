"""The builds role: build identity, the build script, and the operation with fake facts."""

import subprocess
from types import SimpleNamespace
from pathlib import Path

import pytest

from thorfleet.roles.builds.facts import CudaToolkit, InstalledBuilds
from thorfleet.roles.builds.files import build_id, build_script, configure_args
from thorfleet.roles.builds.operations import engine_build
from thorfleet.fleet.schema import HostConfig

from .fake_host import LocalUnit, run_operation, said_before_its_first_command

ROOT = "/opt/thorfleet/builds"


def llama(**changes):
    return HostConfig.model_validate({"builds": {"llama_cpp": changes}}).builds.llama_cpp


CUDA = "/usr/local/cuda"
# As nvcc 13.0 lists them: virtual architectures only (no 90a), 121 among them.
NVCC_13 = {"version": "Cuda compilation tools, release 13.0, V13.0.88",
           "architectures": ["compute_75", "compute_80", "compute_87", "compute_90", "compute_110"]}


def installed(current=None, builds=(), toolkit=NVCC_13):
    return {"InstalledBuilds": {"current": current, "builds": list(builds)}, "CudaToolkit": toolkit}


def test_configure_flags_for_thor_and_for_cpu():
    assert configure_args(llama()) == [
        "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DBUILD_SHARED_LIBS=OFF",
        "-DGGML_CUDA=ON", "-DCMAKE_CUDA_ARCHITECTURES=110", "-DLLAMA_BUILD_TESTS=OFF",
    ]
    cpu = configure_args(llama(cuda=False, cmake_flags={"GGML_BLAS": True}))
    assert "-DGGML_CUDA=OFF" in cpu and "-DGGML_BLAS=ON" in cpu and not any("ARCHITECTURES" in a for a in cpu)


def test_build_id_follows_ref_flags_and_targets_only():
    base = build_id(llama())
    assert base.startswith("0c1e57098bba-")
    assert build_id(llama()) == base
    assert build_id(llama(jobs=2)) == base  # the job cap does not change what is built
    assert build_id(llama(ref="b7000")) != base
    assert build_id(llama(cuda_architectures="90")) != base
    assert build_id(llama(targets=["llama-server"])) != base


def test_installed_builds_fact():
    output = ["current builds/abc-1", "build abc-1", "build old-2"]
    assert InstalledBuilds().process(output) == {"current": "abc-1", "builds": ["abc-1", "old-2"]}
    assert InstalledBuilds().process(["current "]) == {"current": None, "builds": []}


def test_current_build_gives_no_commands():
    build = llama()
    commands, noops = run_operation(engine_build, installed(build_id(build), [build_id(build)]), "llama_cpp", build, ROOT, 2, CUDA)
    assert commands == []
    assert noops == [f"llama.cpp {build.ref} is current ({build_id(build)})"]


def test_changed_ref_uploads_and_runs_the_build_script():
    build = llama(ref="b7000")
    commands, _ = run_operation(engine_build, installed("old", ["old"]), "llama_cpp", build, ROOT, 2, CUDA)
    script = f"{ROOT}/llama.cpp/logs/{build_id(build)}.sh"
    assert commands[0] == f"mkdir -p {ROOT}/llama.cpp/logs {ROOT}/llama.cpp/sources"
    assert commands[1][0] == script and "fetch --depth 1 https://github.com/ggml-org/llama.cpp.git b7000" in commands[1][1]
    assert commands[2] == f"bash {script}"
    said = said_before_its_first_command(engine_build, installed("old", ["old"]), "llama_cpp", build, ROOT, 2, CUDA)
    assert said[-1:] == [f"will build llama.cpp b7000 ({build_id(build)}): minutes; follow it on the unit with "
                    f"`tail -f {ROOT}/llama.cpp/logs/{build_id(build)}.log`"]


def test_kept_build_is_switched_to_without_a_rebuild():
    build = llama()
    commands, _ = run_operation(engine_build, installed("newer", ["newer", build_id(build)]), "llama_cpp", build, ROOT, 2, CUDA)
    assert commands == [
        f'ln -sfn builds/{build_id(build)} {ROOT}/llama.cpp/current.new && '
        f"mv -T {ROOT}/llama.cpp/current.new {ROOT}/llama.cpp/current"
    ]


def test_script_switches_only_after_install_and_smoke_check():
    script = build_script(ROOT, "llama_cpp", llama(), 3, CUDA)
    smoke = script.index('"$staged/bin/$program" --help')
    install = script.index('mv "$staged" "$dir/builds/$id"')
    switch = script.index('mv -T "$dir/current.new" "$dir/current"')
    assert smoke < install < switch
    assert "tail -n +3" in script  # keep: current and the 2 newest others
    assert 'tail -n 25 "$log"' in script  # a failure shows the end of the build log


def _run_script(tmp_path, build, smoke_ok: bool, program: str | None = None):
    """Run the real script against a fake git/cmake on PATH: the unit's shell logic, without a compiler."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "git").write_text("#!/bin/sh\n[ \"$3\" = rev-parse ] && echo 0c1e57098bba43ac29e6e3b677cdceebdd22334f\n"
                                 "[ \"$1\" = init ] && mkdir -p \"$3/.git\"\nexit 0\n")
    program = program or ("#!/bin/sh\nexit 0\n" if smoke_ok else "#!/bin/sh\necho broken >&2; exit 1\n")
    (bin_dir / "cmake").write_text(
        "#!/bin/sh\nif [ \"$1\" = --build ]; then mkdir -p \"$2/bin\"; for t in llama-server llama-bench; do\n"
        f"printf '%s' '{program}' > \"$2/bin/$t\"; chmod +x \"$2/bin/$t\"; done; fi\nexit 0\n")
    for tool in ("git", "cmake"):
        (bin_dir / tool).chmod(0o755)
    root = tmp_path / "builds"
    script = build_script(str(root), "llama_cpp", build, 2, CUDA)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env), root / "llama.cpp"


def test_script_installs_and_switches(tmp_path):
    result, directory = _run_script(tmp_path, llama(), smoke_ok=True)
    assert result.returncode == 0, result.stderr
    assert (directory / "current").readlink().as_posix() == f"builds/{build_id(llama())}"
    assert (directory / "current" / "stamp.json").exists()


def test_failed_smoke_check_leaves_current_alone(tmp_path):
    good, directory = _run_script(tmp_path, llama(), smoke_ok=True)
    assert good.returncode == 0
    result, _ = _run_script(tmp_path, llama(ref="b7000"), smoke_ok=False)
    assert result.returncode == 1
    assert "failed at: the --help check of the new programs (current is unchanged)" in result.stderr
    assert "llama-server --help failed" in result.stderr  # the log's tail
    assert (directory / "current").readlink().as_posix() == f"builds/{build_id(llama())}"
    assert not (directory / "builds" / build_id(llama(ref="b7000"))).exists()


def test_a_program_that_prints_its_usage_and_exits_1_passes_the_check(tmp_path):
    """llama-quantize --help prints its usage and exits 1; a missing library prints no usage."""
    result, directory = _run_script(tmp_path, llama(), smoke_ok=True, program="#!/bin/sh\necho 'usage: x [--help]'; exit 1\n")
    assert result.returncode == 0, result.stderr
    assert (directory / "current").readlink().as_posix() == f"builds/{build_id(llama())}"


def test_source_archive_is_pushed_and_unpacked_instead_of_fetched(tmp_path):
    tree = tmp_path / "llama.cpp-b7000"
    tree.mkdir()
    (tree / "CMakeLists.txt").write_text("project(x)\n")
    archive = tmp_path / "llama.cpp-b7000.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(tmp_path), tree.name], check=True)
    build = llama(ref="b7000", source_archive=str(archive))
    assert build_id(build) != build_id(llama(ref="b7000"))  # the archive's sha256 is part of the build
    commands, _ = run_operation(engine_build, installed(), "llama_cpp", build, ROOT, 2, CUDA)
    unit_archive = f"{ROOT}/llama.cpp/sources/{build_id(build)}.tar.gz"
    assert commands[1] == (unit_archive, str(archive))
    assert commands[2][0].endswith(".sh") and f"tar -xzf {unit_archive}" in commands[2][1]
    assert "git -C \"$dir/src\" fetch" not in commands[2][1]


def test_missing_source_archive_fails_before_anything_is_pushed():
    build = llama(source_archive="/nope/llama.tar.gz")
    commands, _ = run_operation(engine_build, installed(), "llama_cpp", build, ROOT, 2, CUDA)
    assert commands[-1] == ("fail", "builds.llama_cpp.source_archive: /nope/llama.tar.gz is not a file on the controller")
    assert not any(isinstance(c, tuple) and c[0] != "fail" for c in commands)


def test_script_unpacks_an_archive_with_a_top_folder(tmp_path):
    tree = tmp_path / "top"
    tree.mkdir()
    (tree / "CMakeLists.txt").write_text("project(x)\n")
    archive = tmp_path / "src.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(tmp_path), "top"], check=True)
    build = llama(source_archive=str(archive))
    root = tmp_path / "builds"
    unit_archive = root / "llama.cpp" / "sources" / f"{build_id(build)}.tar.gz"
    unit_archive.parent.mkdir(parents=True)
    unit_archive.write_bytes(archive.read_bytes())
    result, directory = _run_script(tmp_path, build, smoke_ok=True)
    assert result.returncode == 0, result.stderr
    assert (directory / "src" / "CMakeLists.txt").exists() and not unit_archive.exists()
    assert (directory / "current" / "commit").read_text().strip() == build.ref


def test_cuda_builds_give_cmake_the_toolkit_explicitly():
    script = build_script(ROOT, "llama_cpp", llama(), 2, "/opt/cuda-13")
    assert "-DCMAKE_CUDA_COMPILER=/opt/cuda-13/bin/nvcc -DCUDAToolkit_ROOT=/opt/cuda-13" in script
    assert "CMAKE_CUDA_COMPILER" not in build_script(ROOT, "llama_cpp", llama(cuda=False), 2, "/opt/cuda-13")
    assert build_id(llama()) == build_id(llama())  # where the toolkit lives is not part of what is built


def test_no_nvcc_fails_at_the_preflight_before_anything_is_pushed():
    commands, _ = run_operation(engine_build, installed(toolkit=None), "llama_cpp", llama(ref="b7000"), ROOT, 2, CUDA)
    assert commands == [("fail", "builds.llama_cpp builds with CUDA, but there is no nvcc at /usr/local/cuda/bin/nvcc: "
                                 "install the CUDA toolkit (base.jetpack: [nvidia-jetpack], or [nvidia-cuda-dev] for the "
                                 "toolkit alone), or set builds.cuda_home to where it is. Nothing was built; current is "
                                 "unchanged")]


def test_an_architecture_nvcc_cannot_target_is_refused():
    commands, _ = run_operation(engine_build, installed(), "llama_cpp", llama(cuda_architectures="87;121"), ROOT, 2, CUDA)
    assert commands[0][0] == "fail" and commands[0][1].startswith(
        "builds.llama_cpp.cuda_architectures: nvcc (Cuda compilation tools, release 13.0, V13.0.88) cannot target 121 "
        "(it offers 75, 80, 87, 90, 110)")
    commands, _ = run_operation(engine_build, installed(), "llama_cpp", llama(cuda_architectures="90a;110-real"), ROOT, 2, CUDA)
    assert commands[-1].startswith("bash ")


def test_cpu_builds_and_current_builds_read_no_toolkit():
    commands, _ = run_operation(engine_build, installed(toolkit=None), "llama_cpp", llama(cuda=False), ROOT, 2, CUDA)
    assert commands[-1].startswith("bash ")
    build = llama()
    commands, _ = run_operation(engine_build, installed(build_id(build), [build_id(build)], toolkit=None), "llama_cpp",
                                build, ROOT, 2, CUDA)
    assert commands == []


def test_cuda_toolkit_fact_reads_nvcc_by_path(tmp_path):
    nvcc = tmp_path / "bin" / "nvcc"
    nvcc.parent.mkdir()
    nvcc.write_text("#!/bin/sh\ncase \"$1\" in --version) echo 'nvcc: NVIDIA'; echo 'Cuda compilation tools, release 13.0, "
                    "V13.0.88';; --list-gpu-arch) printf 'compute_90\\ncompute_110\\n';; esac\n")
    nvcc.chmod(0o755)
    run = lambda home: subprocess.run(["sh", "-c", CudaToolkit().command(home)], capture_output=True, text=True,
                                      env={"PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert CudaToolkit().process(run(str(tmp_path))) == {"version": "Cuda compilation tools, release 13.0, V13.0.88",
                                                          "architectures": ["compute_90", "compute_110"]}
    assert CudaToolkit().process(run(str(tmp_path / "none"))) is None


# Build once for the fleet (roles/builds/shared.py): the builder, the copy, and the install on the others.

def test_the_first_unit_reached_that_needs_the_same_build_compiles_it_for_the_others(tmp_path):
    import json

    from thorfleet.roles.builds.shared import CACHE, CachedBuild, source_of

    from .helpers import fleet_of

    engine = {"engines": {"e": {"kind": "llama-server", "model": "m", "port": 8000}}}
    fleet = fleet_of(tmp_path, {
        "group_vars/all.yml": {"roles": ["builds", "models", "engines"], "builds": {"controller_cache": str(tmp_path / "cache")},
                               "models": {"m": {"source": "huggingface", "id": "o/m", "file": "m.gguf"}}, **engine},
        "host_vars/c.yml": {"builds": {"llama_cpp": {"ref": "b7000"}}},  # another build: its own
        "host_vars/d.yml": {"builds": {"share": False}},  # shares nothing: compiles its own
    }, groups={"llm": ["a", "b", "c", "d"]})
    every = {"a", "b", "c", "d"}
    assert {h: source_of(fleet.hosts[h], fleet, "llama_cpp", every) for h in sorted(every)} == \
        {"a": "a", "b": "a", "c": "c", "d": "d"}
    assert source_of(fleet.hosts["b"], fleet, "llama_cpp", {"b", "c"}) == "b"  # a is not in this deploy (--limit)
    # Once the controller holds a's build, no unit that shares compiles it; c's build and d still compile.
    build = fleet.hosts["a"].config.builds.llama_cpp
    cached = CachedBuild(str(tmp_path / "cache"), "llama_cpp", build_id(build))
    cached.archive.parent.mkdir(parents=True)
    cached.archive.write_bytes(b"archive")
    cached.record_path.write_text(json.dumps({"sha256": "x", "arch": "x86_64", "source": "a", "bytes": 7}))
    assert {h: source_of(fleet.hosts[h], fleet, "llama_cpp", every) for h in sorted(every)} == \
        {"a": CACHE, "b": CACHE, "c": "c", "d": "d"}


def copied(tmp_path, record=None):
    """The copy operation's arguments, with the controller's cache in tmp_path (holding `record`'s build)."""
    import json

    build = llama(cuda=False)
    cache = tmp_path / "cache"
    if record:
        (cache / "llama.cpp").mkdir(parents=True)
        (cache / "llama.cpp" / f"{build_id(build)}.tar.gz").write_bytes(b"archive")
        (cache / "llama.cpp" / f"{build_id(build)}.json").write_text(json.dumps(record))
    return ("llama_cpp", build, ROOT, 2, "sim-01", str(cache)), build


def test_a_copied_build_that_is_current_or_kept_needs_no_copy(tmp_path):
    from thorfleet.roles.builds.operations import engine_build_copied

    args, build = copied(tmp_path)
    commands, noops = run_operation(engine_build_copied, installed(build_id(build), [build_id(build)]), *args)
    assert commands == [] and noops == [f"llama.cpp {build.ref} is current ({build_id(build)})"]
    commands, _ = run_operation(engine_build_copied, installed("newer", ["newer", build_id(build)]), *args)
    assert commands == [f"ln -sfn builds/{build_id(build)} {ROOT}/llama.cpp/current.new && "
                        f"mv -T {ROOT}/llama.cpp/current.new {ROOT}/llama.cpp/current"]


def test_a_new_build_is_copied_off_its_builder_once_then_uploaded_checked_and_switched_to(tmp_path):
    from thorfleet.roles.builds.operations import engine_build_copied

    args, build = copied(tmp_path)
    wanted, cache = build_id(build), tmp_path / "cache" / "llama.cpp"
    commands, _ = run_operation(engine_build_copied, installed("old", ["old"]), *args)
    assert commands[0].startswith("FunctionCommand(copy_off_builder") and "sim-01" in commands[0]
    sources = f"{ROOT}/llama.cpp/sources"
    assert commands[1] == f"mkdir -p {ROOT}/llama.cpp/logs {sources}"
    assert commands[2:4] == [(f"{sources}/{wanted}.build.tar.gz", str(cache / f"{wanted}.tar.gz")),
                             (f"{sources}/{wanted}.build.expect", str(cache / f"{wanted}.expect"))]
    assert commands[4][0] == f"{ROOT}/llama.cpp/logs/{wanted}.install.sh" and commands[5] == f"bash {commands[4][0]}"
    said = said_before_its_first_command(engine_build_copied, installed("old", ["old"]), *args)
    assert said[-1:] == [f"will copy llama.cpp {build.ref} ({wanted}) from sim-01, which builds it for the fleet"]
    # In the controller's cache already (a unit added later): no builder asked, the same upload and install.
    args, _ = copied(tmp_path / "later", {"sha256": "x", "arch": "x86_64", "source": "sim-01", "bytes": 31_000_000})
    commands, _ = run_operation(engine_build_copied, installed("old", ["old"]), *args)
    assert not any(str(c).startswith("FunctionCommand") for c in commands) and commands[-1].startswith("bash ")
    said = said_before_its_first_command(engine_build_copied, installed("old", ["old"]), *args)
    assert said[-1:] == [f"will copy llama.cpp {build.ref} ({wanted}) from the controller's cache (built on sim-01): 31 MB"]


def _copied_build(tmp_path, arch: str, corrupt: bool = False, program: str = "#!/bin/sh\nexit 0\n"):
    """A unit's folder with the archive and expectation a copy uploads; the install script's result."""
    import hashlib
    import platform

    from thorfleet.roles.builds.files import copied_paths, install_script

    build = llama(cuda=False)
    tree = tmp_path / "tree" / build_id(build)
    (tree / "bin").mkdir(parents=True)
    for target in build.targets:
        (tree / "bin" / target).write_text(program)
        (tree / "bin" / target).chmod(0o755)
    (tree / "stamp.json").write_text("{}")
    root = tmp_path / "builds"
    archive, expect, _ = copied_paths(str(root), "llama_cpp", build)
    Path(archive).parent.mkdir(parents=True)
    subprocess.run(["tar", "-czf", archive, "-C", str(tree.parent), tree.name], check=True)
    digest = hashlib.sha256(Path(archive).read_bytes()).hexdigest()
    if corrupt:
        Path(archive).write_bytes(Path(archive).read_bytes()[:-10] + b"0123456789")
    Path(expect).write_text(f"{digest} {arch or platform.machine()}\n")
    script = install_script(str(root), "llama_cpp", build, 2, "sim-01")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True), root / "llama.cpp", build


def test_a_copied_build_is_installed_and_switched_to_once_its_checksum_arch_and_programs_pass(tmp_path):
    result, directory, build = _copied_build(tmp_path, arch="")
    assert result.returncode == 0, result.stderr
    assert (directory / "current").readlink().as_posix() == f"builds/{build_id(build)}"
    assert (directory / "current" / "bin" / "llama-server").exists() and not list((directory / "sources").iterdir())


@pytest.mark.parametrize("case, reason", [
    ({"corrupt": True}, "its archive's sha256 is not the one recorded when it was copied off the builder"),
    ({"arch": "riscv64"}, "it was built on riscv64 and this unit is "),
    ({"program": "#!/bin/sh\necho 'libcuda.so.1: cannot open' >&2; exit 127\n"},
     "the --help check of llama-server failed: libcuda.so.1: cannot open"),
])
def test_a_copied_build_that_fails_a_check_leaves_current_alone(tmp_path, case, reason):
    result, directory, build = _copied_build(tmp_path, **{"arch": "", **case})
    assert result.returncode == 1 and f"from sim-01 was not installed: {reason}" in result.stderr, result.stderr
    assert not (directory / "current").exists() and not (directory / "builds" / build_id(build)).exists()
    assert not list((directory / "sources").iterdir())  # the upload is not kept


# With model_store.fetch: fleet, copies travel in the fleet's multicast session (core/fanout.py).

def test_with_the_fleets_fan_out_a_unit_receives_only_the_builds_it_lacks(tmp_path):
    from thorfleet.core import fanout
    from thorfleet.roles.builds.operations import engine_build_copied, fanned_out

    build = llama(cuda=False)
    store = HostConfig.model_validate({"model_store": {"fetch": "fleet", "serve_address": "10.231.0.1"}}).model_store
    args = ({"llama_cpp": (build, "sim-01")}, ROOT, str(tmp_path / "cache"), store, "10.231.0.12")
    commands, _ = run_operation(fanned_out, installed("old", ["old"]), *args)
    assert len(commands) == 1 and commands[0].startswith("FunctionCommand(receive")
    assert f"('llama_cpp', '{build_id(build)}', 'sim-01')" in commands[0]
    state = SimpleNamespace(config=SimpleNamespace(DIFF=False))
    commands, noops = run_operation(fanned_out, installed("newer", ["newer", build_id(build)]), *args, pyinfra_state=state)
    assert commands == [] and noops == ["1 shared builds current or kept here: nothing to receive"]
    assert fanout.session(state, "builds").answered == {"thor-01"}  # the others do not wait for it
    # The copy then takes the fan-out's archive instead of uploading it; the expectation is still uploaded.
    copy_args, _ = copied(tmp_path)
    commands, _ = run_operation(engine_build_copied, installed("old", ["old"]), *copy_args, fanned=True)
    assert commands[2].startswith("FunctionCommand(take_received")
    assert f"'{ROOT}/.thorfleet-incoming/llama.cpp/{build_id(build)}.tar.gz'" in commands[2]
    assert [c[0] for c in commands if isinstance(c, tuple)] == [f"{ROOT}/llama.cpp/sources/{build_id(build)}.build.expect",
                                                                 f"{ROOT}/llama.cpp/logs/{build_id(build)}.install.sh"]


@pytest.mark.parametrize("arrived", ["whole", "damaged", "missing"])
def test_a_unit_takes_the_fan_outs_archive_only_when_its_sha256_is_the_recorded_one(tmp_path, arrived):
    import hashlib
    import json

    from thorfleet.roles.builds.shared import CachedBuild, take_received

    cached = CachedBuild(str(tmp_path / "cache"), "llama_cpp", "b1")
    cached.archive.parent.mkdir(parents=True)
    cached.archive.write_bytes(b"the builder's tree")
    cached.record_path.write_text(json.dumps({"sha256": hashlib.sha256(b"the builder's tree").hexdigest()}))
    engine = tmp_path / "unit/llama.cpp"
    (engine / "sources").mkdir(parents=True)
    (engine / "logs").mkdir()
    received, archive = tmp_path / "incoming/llama.cpp/b1.tar.gz", engine / "sources/b1.build.tar.gz"
    received.parent.mkdir(parents=True)
    if arrived != "missing":
        received.write_bytes(b"the builder's tree" if arrived == "whole" else b"the builder's tre!")
    unit = LocalUnit()
    assert take_received(None, unit, cached, str(received), str(archive))
    assert archive.read_bytes() == b"the builder's tree" and not received.exists()
    assert unit.uploaded == ([] if arrived == "whole" else [(str(cached.archive), str(archive))])
    assert (engine / "logs/b1.fanout").exists() == (arrived == "whole")  # `hosts --artifacts` says "fan-out"
