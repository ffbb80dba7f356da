"""What every engine kind shares: settings, validation, and the hooks each kind fills in (kinds.py).

A kind is one class in kinds.py that states, in one place: its config keys, its command line
(`command_args`), the program it runs (native: the build and program; containers: the server
command inside the image), how it takes an API key, its health path and which verify checks
apply to it. The deploy, the rendered files, the schema and the verify checks ask the class.
"""

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, Union

from pydantic import AfterValidator, Field, model_validator

from thorfleet.core.fleet import EngineMetrics
from thorfleet.core.model_shape import ModelFacts
from thorfleet.core.role import Problem
from thorfleet.core.types import (
    AbsPath,
    BindAddress,
    EnvName,
    Image,
    KeyProblem,
    Name,
    Port,
    SecretSource,
    SingleLine,
    StrictModel,
)
from thorfleet.roles.engines.memory import EngineNeed, GiB

ARG_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

ArgScalar = Union[bool, int, float, str]
ArgValue = Union[ArgScalar, list[ArgScalar], dict[str, Any]]


def _args(value: dict[str, Any]) -> dict[str, Any]:
    for name, arg in value.items():
        if name.startswith("-"):
            raise ValueError(f"write {name.lstrip('-')!r} without dashes: thorfleet renders it as '--{name.lstrip('-')}'")
        if not ARG_NAME_RE.match(name):
            raise ValueError(f"{name!r} is not a long flag name (lowercase letters, digits and '-')")
        if isinstance(arg, str) and "\0" in arg:
            raise ValueError(f"value of {name!r} contains a NUL byte")
    return value


Args = Annotated[dict[str, ArgValue | None], AfterValidator(_args)]


class EngineBase(StrictModel):
    """Settings every engine instance has."""

    if TYPE_CHECKING:
        kind: str  # each kind's own Literal field (kinds.py): the discriminator

    model: Name | None = Field(None, description="Name of an entry under `models` that this engine serves.")
    port: Port = Field(description="TCP port the engine listens on.")
    bind: BindAddress = Field("127.0.0.1", description="Address it listens on; anything but loopback needs `api_key` or `allow_unauthenticated`.")
    served_name: SingleLine | None = Field(None, description="Model name clients ask for (`--alias` / `--served-model-name`); the engine's name when unset.")
    args: Args = Field(
        default_factory=dict,
        description="Further flags, without dashes: `true` for a bare flag, `false`/null to drop one, a list repeats it, a mapping becomes JSON.",
    )
    env: dict[EnvName, SingleLine] = Field(default_factory=dict, description="Environment variables of the engine process.")
    api_key: SecretSource | None = Field(None, description="API key source on the controller; written to a file only the service user reads.")
    previous_api_keys: list[SecretSource] = Field(
        [], description="Keys the engine still accepts besides `api_key` during a rotation (docs/gateway.md); kinds that read "
                        "a key file only (llama-server, llama-router).")
    allow_unauthenticated: bool = Field(False, description="Explicitly allow a non-loopback `bind` without an API key.")
    drop_caches: bool = Field(False, description="Drop the page cache before starting (seed 002 does before large models).")
    health_timeout: int = Field(600, ge=5, le=7200, description="Seconds the deploy waits for the engine to become healthy.")
    check_flags: bool = Field(
        True,
        description="Before each (re)start, check the command line against the engine's `--help` (the installed program, or the "
                    "image's entry command run without GPU or network); `false` skips it for an engine whose help cannot run so.",
    )

    # Flags thorfleet renders from the keys above; per kind. Setting them in `args` is an error.
    owned_flags: ClassVar[frozenset[str]] = frozenset()
    # Flags in `args` whose value thorfleet itself computes with (the memory plan, rendered defaults):
    # each must be a whole number (`32k` or `four` is refused here, not met as a traceback or a bad restart).
    count_flags: ClassVar[frozenset[str]] = frozenset()
    # What the deploy asks to know the engine is up (answers 200 once the model is loaded).
    health_path: ClassVar[str] = "/health"
    # How the engine receives its API key: "file" (a path on its command line), "env" (the variable
    # `api_key_env`, from a root-only environment file), or None: it has no authentication of its own.
    api_key_via: ClassVar[Literal["file", "env"] | None] = None
    api_key_env: ClassVar[str | None] = None
    # Whether it needs an entry under `models` (Ollama manages its own).
    needs_model: ClassVar[bool] = True
    # What clients do with it (core/fleet.py): CHAT, TRANSCRIPTION, or None (health only).
    serves: ClassVar[str | None] = None
    # Flags a pinned version renamed, with an unambiguous replacement: name -> (new flag, what to write).
    renamed_flags: ClassVar[dict[str, tuple[str, str]]] = {}
    # The benchmark program beside `program` in its build, which `thorfleet tune` drives; None: not tunable.
    bench_program: ClassVar[str | None] = None
    # Its Prometheus metrics (kinds.py, EngineMetrics); None: it exposes none on its API port.
    metrics: ClassVar[EngineMetrics | None] = None

    @property
    def supports_api_key(self) -> bool:
        return self.api_key_via is not None

    def command_args(self, launch: "Launch") -> list[str]:
        """The arguments after the program (native) or after the image's server command (containers)."""
        raise NotImplementedError(f"{type(self).__name__} must say its command line")

    def rendered_args(self, config: Any) -> dict[str, Any]:
        """The flags rendered after the engine's own: `args`, over defaults where a kind has them."""
        return self.args

    def advice(self, config: Any) -> Iterator[Problem]:
        """(key path under the engine, reason) for settings that are valid but known to be a mistake."""
        return iter(())

    def locks_memory(self, config: Any) -> bool:
        """Whether it locks its model in RAM (its unit then lifts the memlock limit)."""
        return False

    def memory_need(self, config: Any, name: str, facts: ModelFacts | None) -> EngineNeed:
        """What it takes of the unit's memory (memory.py); kinds that can say override this."""
        return EngineNeed(name, self.kind, note="not estimated for this kind")

    def planned_need(self, config: Any, name: str, facts_of: Callable[[Any], ModelFacts | None]) -> EngineNeed:
        """Its need in the memory plan, `facts_of(entry)` giving what the controller knows of a model."""
        model = config.models.get(self.model) if self.model else None
        return self.memory_need(config, name, facts_of(model) if model else None)

    def served(self, name: str) -> list[tuple[str, str | None]]:
        """(the name clients ask for, the entry under `models` behind it) for each model it serves."""
        return [(self.served_name or name, self.model)]

    @property
    def exposed(self) -> bool:
        return not ipaddress.ip_address(self.bind).is_loopback

    # The keys of the ports it listens on, all on `bind`.
    port_keys: ClassVar[tuple[str, ...]] = ("port",)

    @property
    def ports(self) -> list[int]:
        return [getattr(self, key) for key in self.port_keys]

    @model_validator(mode="after")
    def _checks(self) -> Self:
        check_args(self.args, self.owned_flags, self.count_flags, "this engine's own keys (model, port, bind, served_name, ...)")
        if self.api_key and not self.supports_api_key:
            raise KeyProblem("api_key", f"{self.kind} has no authentication of its own, so api_key cannot be used")
        if self.previous_api_keys and self.api_key is None:
            raise KeyProblem("previous_api_keys", "they are accepted besides api_key: set api_key (the new key) too")
        if self.previous_api_keys and self.api_key_via != "file":
            raise KeyProblem("previous_api_keys", f"{self.kind} takes a single key ({self.api_key_env}): only kinds that read "
                                                  "a key file accept previous ones; change its api_key in a quiet hour")
        return self

    def accepted_keys(self) -> list[str]:
        """The keys it accepts, read from their sources: `api_key` first, then the previous ones."""
        return [source.read() for source in ([self.api_key, *self.previous_api_keys] if self.api_key else [])]


def check_args(args: dict[str, Any], owned: frozenset[str], counts: frozenset[str], owner: str) -> None:
    """Refuses flags thorfleet renders itself (`owned`, from `owner`), and a count flag that is not a
    whole number (thorfleet computes with those: the memory plan, the rendered defaults)."""
    taken = sorted(set(args) & owned)
    if taken:
        raise KeyProblem("args", f"{taken} are set by thorfleet from {owner}")
    for flag in sorted(set(args) & counts):
        value = args[flag]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise KeyProblem(f"args.{flag}", f"{value!r} is not a whole number, which --{flag} takes (write 32768, not 32k)")


def _not_root(value: str) -> str:
    if value == "root":
        raise ValueError("an engine serving the network does not run as root: name an unprivileged user (default thorfleet)")
    return value


@dataclass(frozen=True)
class Launch:
    """What an engine's command line refers to on the unit, worked out by commands.engine_argv."""

    name: str  # the engine's name in the config
    served_name: str
    model_dir: str | None
    model_path: str | None
    api_key_file: str
    preset_file: str  # a llama-router's models

    @property
    def model(self) -> str:
        """The model file, for the kinds that need one (validation made sure the engine has one)."""
        if self.model_path is None:
            raise ValueError(f"engine {self.name} has no model")
        return self.model_path


class NativeEngine(EngineBase):
    """An engine built on the unit (llama.cpp, whisper.cpp) and run as an unprivileged service user."""

    # builds.<build> makes `program`.
    build: ClassVar[str]
    program: ClassVar[str]

    user: Annotated[Name, AfterValidator(_not_root)] = Field("thorfleet", description="Unprivileged system user the engine runs as (never root).")
    groups: list[Name] = Field(
        default_factory=lambda: ["video", "render"],
        description="Groups of the service user where the unit has them (Jetson's GPU device nodes belong to video and render).",
    )


class ContainerEngine(EngineBase):
    """An engine run from a container image with `docker run --runtime nvidia`."""

    # The server command inside the image (its `--help` lists the options the flag check reads).
    entry_command: ClassVar[tuple[str, ...]]

    image: Image = Field(description="Container image with a pinned tag, e.g. NVIDIA's vLLM image for Jetson.")
    volumes: list[SingleLine] = Field(
        default_factory=list, description="Extra `-v HOST:CONTAINER[:ro]` mounts; the model folder is mounted read-only by itself."
    )

    @model_validator(mode="after")
    def _volumes(self) -> Self:
        for volume in self.volumes:
            parts = volume.split(":")
            if len(parts) not in (2, 3) or not parts[0].startswith("/") or not parts[1].startswith("/"):
                raise ValueError(f"volume {volume!r} is not 'HOST_PATH:CONTAINER_PATH[:ro]' with absolute paths")
            if len(parts) == 3 and parts[2] not in ("ro", "rw"):
                raise ValueError(f"volume {volume!r}: the third part must be 'ro' or 'rw'")
        return self

    def mounts(self, launch: Launch) -> list[str]:
        """`-v` mounts: the model folder read-only, what the kind needs, then the configured volumes."""
        return ([f"{launch.model_dir}:{launch.model_dir}:ro"] if launch.model_dir else []) + self.kind_mounts(launch) + \
            list(self.volumes)

    def kind_mounts(self, launch: Launch) -> list[str]:
        return []

    def kind_env(self) -> list[str]:
        """`-e NAME=VALUE` settings of the kind itself (never secrets)."""
        return []


class LLMContainer(ContainerEngine):
    """Settings shared by vLLM and SGLang (seed 001)."""

    gpu_memory_utilization: float | None = Field(
        0.8, gt=0, le=1, description="Share of the unified memory the engine may take (vLLM `--gpu-memory-utilization`, SGLang `--mem-fraction-static`)."
    )
    sampling: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description="Default sampling parameters (vLLM `--override-generation-config`, SGLang `--preferred-sampling-params`).",
    )
    chat_template: AbsPath | None = Field(None, description="Chat template file on the unit (`--chat-template`), e.g. a non-thinking one.")
    thinking: bool | None = Field(None, description="`false` needs `chat_template` set to a non-thinking template (seed 001).")

    @model_validator(mode="after")
    def _thinking_needs_template(self) -> Self:
        if self.thinking is False and not self.chat_template:
            raise KeyProblem("thinking", f"false on {self.kind} needs chat_template (seed 001 uses qwen3_nonthinking.jinja)")
        return self

    # Its flags for the memory share and for default sampling parameters.
    memory_flag: ClassVar[str]
    sampling_flag: ClassVar[str]

    def kind_mounts(self, launch: Launch) -> list[str]:
        if self.chat_template and not _inside(self.chat_template, launch.model_dir):
            return [f"{self.chat_template}:{self.chat_template}:ro"]
        return []

    def memory_need(self, config: Any, name: str, facts: ModelFacts | None) -> EngineNeed:
        if not self.gpu_memory_utilization:
            return super().memory_need(config, name, facts)
        return EngineNeed(name, self.kind, share=int(self.gpu_memory_utilization * config.memory.total_gib * GiB),
                          note=f"its share, gpu_memory_utilization {self.gpu_memory_utilization}, taken at start")

    def llm_options(self) -> list[str]:
        argv = []
        if self.gpu_memory_utilization is not None:
            argv += [self.memory_flag, repr(self.gpu_memory_utilization)]
        if self.sampling:
            argv += [self.sampling_flag, json_value(dict(self.sampling))]
        if self.chat_template:
            argv += ["--chat-template", self.chat_template]
        return argv


def flag_args(args: dict[str, Any]) -> list[str]:
    """`args` from the config as command-line words: true → bare flag, list → repeated, mapping → JSON."""
    words: list[str] = []
    for name, value in args.items():
        flag = f"--{name}"
        for item in value if isinstance(value, list) else [value]:
            if item is None or item is False:
                continue
            if item is True:
                words.append(flag)
            else:
                words += [flag, json_value(item) if isinstance(item, dict) else repr(item) if isinstance(item, float) else str(item)]
    return words


def json_value(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _inside(path: str, folder: str | None) -> bool:
    return folder is not None and PurePosixPath(folder) in PurePosixPath(path).parents
