"""Config of the builds role: llama.cpp and whisper.cpp compiled on the unit."""

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from thorfleet.core import paths
from thorfleet.core.types import AbsPath, SingleLine, StrictModel, Url

# CMake CUDA architecture entries: 110, 90a, 87-real, 110-virtual; or CMake's keywords.
CUDA_ARCH_RE = re.compile(r"^[0-9]{2,3}[af]?(-real|-virtual)?$")
CUDA_ARCH_KEYWORDS = {"all", "all-major", "native"}
CMAKE_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TARGET_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")
REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")

# Set by thorfleet from the keys above; giving them in cmake_flags would contradict those keys.
OWNED_CMAKE_VARS = {"GGML_CUDA", "CMAKE_CUDA_ARCHITECTURES", "GGML_NATIVE", "CMAKE_BUILD_TYPE", "BUILD_SHARED_LIBS"}


def _cuda_architectures(value: str) -> str:
    entries = value.split(";")
    for entry in entries:
        if entry in CUDA_ARCH_KEYWORDS and len(entries) == 1:
            continue
        if re.match(r"^\d+\.\d+$", entry):
            raise ValueError(f"{entry!r} is a compute capability; CMake wants it without the dot ({entry.replace('.', '')})")
        if entry.startswith("sm_") or entry.startswith("compute_"):
            raise ValueError(f"{entry!r} is an nvcc name; CMake wants the number only ({entry.split('_', 1)[1]})")
        if not CUDA_ARCH_RE.match(entry):
            raise ValueError(f"{entry!r} is not a CUDA architecture such as 110, 90a or 87-real (list them with ';')")
    return value


def _cmake_flags(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if not CMAKE_VAR_RE.match(name):
            raise ValueError(f"{name!r} is not a CMake variable name")
        if name in OWNED_CMAKE_VARS:
            raise ValueError(f"{name} is set by thorfleet from the build's own keys (cuda, cuda_architectures)")
    return value


def _targets(value: list[str]) -> list[str]:
    for target in value:
        if not TARGET_RE.match(target):
            raise ValueError(f"{target!r} is not a CMake target name")
    if not value:
        raise ValueError("at least one target is needed")
    return value


def _ref(value: str) -> str:
    if not REF_RE.match(value) or ".." in value:
        raise ValueError(f"{value!r} is not a git tag, branch or commit")
    return value


CudaArchitectures = Annotated[str, AfterValidator(_cuda_architectures)]
CMakeFlags = Annotated[dict[str, str | int | bool], AfterValidator(_cmake_flags)]
Targets = Annotated[list[str], AfterValidator(_targets)]
GitRef = Annotated[str, AfterValidator(_ref)]


class BuildConfig(StrictModel):
    """One engine's source and build settings (seeds 000/001: `cmake -B build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=110`)."""

    repo: Url = Field(description="Git URL of the source (upstream, a mirror, or a path on the unit).")
    ref: GitRef = Field(description="Pinned tag or commit that is built.")
    source_archive: SingleLine | None = Field(
        None, description="A `.tar.gz` of the source tree on the controller (`git archive --format=tar.gz REF`), pushed to "
        "units that reach no git server instead of fetching `repo`; `ref` then names what it holds. Relative to where pyinfra runs.",
    )
    cuda: bool = Field(True, description="Build with CUDA (`GGML_CUDA=ON`).")
    cuda_architectures: CudaArchitectures = Field("110", description="`CMAKE_CUDA_ARCHITECTURES`; Thor is 110 (compute capability 11.0).")
    cmake_flags: CMakeFlags = Field(default_factory=dict, description="Extra `-DNAME=VALUE` CMake flags.")
    targets: Targets = Field(description="CMake targets to build.")
    jobs: int = Field(8, ge=1, le=64, description="Cap on parallel compile jobs (`-j`); lowered to the unit's cores and to what its memory holds (CUDA objects take GBs each).")


class LlamaCppBuild(BuildConfig):
    repo: Url = Field("https://github.com/ggml-org/llama.cpp.git", description="Git URL of llama.cpp (upstream, a mirror, or a path on the unit).")
    # The llama.cpp commit that llama-cpp-python 0.3.36 vendors (its sdist carries the git history).
    ref: GitRef = Field("0c1e57098bba43ac29e6e3b677cdceebdd22334f", description="Pinned llama.cpp commit or tag.")
    cmake_flags: CMakeFlags = Field(default_factory=lambda: {"LLAMA_BUILD_TESTS": "OFF"},  # type: ignore[arg-type]
                                   description="Extra `-DNAME=VALUE` CMake flags.")
    targets: Targets = Field(default_factory=lambda: ["llama-server", "llama-bench"], description="CMake targets to build.")


class WhisperCppBuild(BuildConfig):
    repo: Url = Field("https://github.com/ggml-org/whisper.cpp.git", description="Git URL of whisper.cpp (upstream, a mirror, or a path on the unit).")
    # The whisper.cpp release that pywhispercpp 1.5.1 vendors.
    ref: GitRef = Field("v1.8.5", description="Pinned whisper.cpp tag or commit.")
    cmake_flags: CMakeFlags = Field(default_factory=lambda: {"WHISPER_BUILD_TESTS": "OFF"},  # type: ignore[arg-type]
                                   description="Extra `-DNAME=VALUE` CMake flags.")
    targets: Targets = Field(default_factory=lambda: ["whisper-server", "whisper-cli"], description="CMake targets to build.")


class BuildsConfig(StrictModel):
    """Builds of the native engines, installed under `root/<engine>/<build id>` with a `current` link."""

    root: AbsPath = Field(paths.BUILDS_ROOT, description="Where sources, build logs and installed builds live.")
    cuda_home: AbsPath = Field(
        "/usr/local/cuda", description="The CUDA toolkit CUDA builds use (JetPack puts it here): its `bin/nvcc` is given to "
        "CMake as `CMAKE_CUDA_COMPILER` and the folder as `CUDAToolkit_ROOT`, whatever the login shell's PATH says.",
    )
    keep: int = Field(2, ge=1, le=20, description="Installed builds kept per engine (current included), for rollback.")
    share: bool = Field(
        True, description="Build once for the fleet: of the units a deploy reaches that need the same build (same id), the "
        "first in the inventory compiles it and the others get its installed tree through the controller (checksummed, "
        "installed with the same smoke check and switch). `false`: this unit compiles its own.")
    controller_cache: SingleLine = Field(
        ".cache/builds", description="The controller's copies of shared builds (`<engine>/<id>.tar.gz` and its record), "
        "relative to where pyinfra runs: a unit added later gets the build from here without a compile.")
    llama_cpp: LlamaCppBuild = Field(default_factory=LlamaCppBuild, description="llama.cpp (llama-server, llama-bench).")
    whisper_cpp: WhisperCppBuild = Field(default_factory=WhisperCppBuild, description="whisper.cpp (whisper-server, whisper-cli).")

    def current_bin(self, build: str, program: str) -> str:
        """Path of an installed program in the build that `current` points at."""
        return f"{self.root}/{build}/current/bin/{program}"
