"""Config of the docker role: the nvidia runtime in daemon.json, docker group, images."""

from typing import Literal, Self

from pydantic import Field, model_validator

from thorfleet.core.types import AbsPath, Image, KeyProblem, SingleLine, StrictModel, Url


class DockerConfig(StrictModel):
    """Docker engine settings thorfleet owns in `/etc/docker/daemon.json`; other keys there are kept."""

    nvidia_runtime: bool = Field(True, description="Register the `nvidia` runtime (Jetson containers need `--runtime nvidia`).")
    runtime_path: SingleLine = Field(
        "nvidia-container-runtime", description="Executable of the nvidia runtime, as `runtimes.nvidia.path`."
    )
    default_runtime: Literal["nvidia", "runc"] = Field("nvidia", description="`default-runtime` in daemon.json.")
    registry_mirrors: list[Url] = Field(default_factory=list, description="`registry-mirrors` in daemon.json.")
    data_root: AbsPath | None = Field(None, description="`data-root` in daemon.json (where images live); Docker's default when unset.")
    log_driver: Literal["json-file", "local", "journald"] = Field("json-file", description="`log-driver` in daemon.json.")
    log_opts: dict[str, SingleLine] = Field(
        default_factory=lambda: {"max-size": "50m", "max-file": "3"},
        description="`log-opts` in daemon.json; keeps container logs from filling the disk.",
    )
    add_login_user: bool = Field(True, description="Add the SSH login user to the `docker` group.")
    users: list[SingleLine] = Field(default_factory=list, description="Further users added to the `docker` group.")
    pull_images: list[Image] = Field(
        default_factory=list, description="Images to pre-pull; the container engines' images are pulled in any case."
    )
    image_archives: dict[Image, SingleLine] = Field(
        default_factory=dict,
        description="Images loaded from `docker save` archives on the controller instead of pulled (units without a "
        "registry): image -> archive path, relative to where pyinfra runs. One archive may hold several images.",
    )

    @model_validator(mode="after")
    def _runtime_present(self) -> Self:
        if self.default_runtime == "nvidia" and not self.nvidia_runtime:
            raise KeyProblem("nvidia_runtime", "is false, but default_runtime is 'nvidia': register the runtime, "
                             "or set default_runtime: runc")
        return self
