"""Where builds live on a unit, what identifies a build, and the script that makes one.

    <root>/<engine>/src                  git checkout of the source (or the pushed archive, unpacked)
    <root>/<engine>/sources/<id>.tar.gz  a source archive pushed from the controller, until it is unpacked
    <root>/<engine>/work/<id>            CMake build tree; removed once installed (ccache on the unit speeds the next
                                         build), kept after a failure for a look and a faster retry
    <root>/<engine>/builds/<id>/bin      an installed build, with stamp.json saying what it is
    <root>/<engine>/current -> builds/<id>
    <root>/<engine>/logs/<id>.log        the build's log (and logs/<id>.sh, the script that ran)
    <root>/<engine>/sources/<id>.build.tar.gz, .build.expect
                                         a build compiled on another unit (roles/builds/shared.py), until installed
                                         by logs/<id>.install.sh
"""

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

from thorfleet.core.render import render_template
from thorfleet.roles.builds.config import BuildConfig

# Config key -> folder on the unit (also the name engines use for the binary path).
ENGINES = {"llama_cpp": "llama.cpp", "whisper_cpp": "whisper.cpp"}
# Every program is checked with `--help` before `current` moves to its build.
SMOKE_ARG = "--help"
# Memory one compile job may take, by kind: CUDA objects of ggml take GBs each (jetson-containers#1430).
GIB_PER_JOB = {True: 3, False: 1}


def configure_args(build: BuildConfig) -> list[str]:
    """CMake's configure flags, in a fixed order: the owned ones from the build's keys, then the extra ones."""
    args = ["-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DBUILD_SHARED_LIBS=OFF"]
    if build.cuda:
        args += ["-DGGML_CUDA=ON", f"-DCMAKE_CUDA_ARCHITECTURES={build.cuda_architectures}"]
    else:
        args.append("-DGGML_CUDA=OFF")
    for name, value in sorted(build.cmake_flags.items()):
        if isinstance(value, bool):
            value = "ON" if value else "OFF"
        args.append(f"-D{name}={value}")
    return args


def stamp(build: BuildConfig) -> dict[str, Any]:
    """What a build is made of; a different stamp is a different build."""
    made_of = {"ref": build.ref, "configure": configure_args(build), "targets": list(build.targets)}
    if build.source_archive:
        made_of["source_sha256"] = archive_sha256(build.source_archive)
    return made_of


def archive_sha256(path: str) -> str:
    """sha256 of a source archive on the controller ('missing' when there is none: the deploy says so)."""
    try:
        return hashlib.file_digest(open(Path(path).expanduser(), "rb"), "sha256").hexdigest()
    except OSError:
        return "missing"


def archive_on_unit(root: str, key: str, build: BuildConfig) -> str:
    return f"{engine_dir(root, key)}/sources/{build_id(build)}.tar.gz"


def build_id(build: BuildConfig) -> str:
    digest = hashlib.sha256(json.dumps(stamp(build), sort_keys=True).encode()).hexdigest()[:10]
    readable = build.ref[:12] if len(build.ref) == 40 else build.ref.replace("/", "-")
    return f"{readable}-{digest}"


def engine_dir(root: str, key: str) -> str:
    return f"{root}/{ENGINES[key]}"


def toolkit_args(build: BuildConfig, cuda_home: str) -> list[str]:
    """Where CMake finds the CUDA toolkit, given explicitly (a non-interactive shell's PATH lacks it).
    Not part of the build's stamp: the same source and options built with the toolkit where it is."""
    return [f"-DCMAKE_CUDA_COMPILER={cuda_home}/bin/nvcc", f"-DCUDAToolkit_ROOT={cuda_home}"] if build.cuda else []


def build_script(root: str, key: str, build: BuildConfig, keep: int, cuda_home: str) -> str:
    """The shell script that fetches, configures, builds, checks, installs and switches one build."""
    return render_template(
        "roles/builds/build.sh.j2",
        engine=ENGINES[key],
        dir=engine_dir(root, key),
        id=build_id(build),
        build=build,
        repo=shlex.quote(build.repo),
        ref=shlex.quote(build.ref),
        configure=" ".join(shlex.quote(a) for a in configure_args(build) + toolkit_args(build, cuda_home)),
        targets=" ".join(build.targets),
        stamp=shlex.quote(json.dumps(stamp(build), sort_keys=True)),
        smoke_arg=SMOKE_ARG,
        gib_per_job=GIB_PER_JOB[build.cuda],
        keep=keep,
        archive=archive_on_unit(root, key, build) if build.source_archive else None,
    )


def copied_paths(root: str, key: str, build: BuildConfig) -> tuple[str, str, str]:
    """(archive, its expected sha256 and arch, the install script) of a build copied from another unit."""
    directory, wanted = engine_dir(root, key), build_id(build)
    return (f"{directory}/sources/{wanted}.build.tar.gz", f"{directory}/sources/{wanted}.build.expect",
            f"{directory}/logs/{wanted}.install.sh")


def install_script(root: str, key: str, build: BuildConfig, keep: int, source: str) -> str:
    """The shell script that checks, unpacks, smoke-checks and switches to a build compiled on `source`."""
    archive, expect, _ = copied_paths(root, key, build)
    return render_template("roles/builds/install.sh.j2", engine=ENGINES[key], dir=engine_dir(root, key), id=build_id(build),
                           archive=shlex.quote(archive), expect=shlex.quote(expect), source=source,
                           targets=" ".join(build.targets), smoke_arg=SMOKE_ARG, keep=keep)
