"""Config of the engines role: named serving instances, each of one kind."""

import ipaddress
import re
from typing import Annotated, ClassVar, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from thorfleet.types import AbsPath, BindAddress, EnvName, Image, Name, Port, SecretSource, SingleLine, StrictModel

ARG_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

ArgScalar = Union[bool, int, float, str]
ArgValue = Union[ArgScalar, list[ArgScalar], dict]


def _args(value: dict) -> dict:
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
    # What the deploy asks to know the engine is up (answers 200 once the model is loaded).
    health_path: ClassVar[str] = "/health"
    # Which kinds accept an API key, and how.
    supports_api_key: ClassVar[bool] = True

    @property
    def exposed(self) -> bool:
        return not ipaddress.ip_address(self.bind).is_loopback

    @property
    def ports(self) -> list[int]:
        return [self.port]

    @model_validator(mode="after")
    def _checks(self):
        owned = sorted(set(self.args) & self.owned_flags)
        if owned:
            raise ValueError(f"args {owned} are set by thorfleet from this engine's own keys (model, port, bind, served_name, ...)")
        if self.api_key and not self.supports_api_key:
            raise ValueError(f"{self.kind} has no authentication of its own, so api_key cannot be used")
        return self


class NativeEngine(EngineBase):
    """An engine built on the unit (llama.cpp, whisper.cpp) and run as an unprivileged service user."""

    user: Name = Field("thorfleet", description="Unprivileged system user the engine runs as.")
    groups: list[Name] = Field(
        default_factory=lambda: ["video", "render"],
        description="Groups of the service user where the unit has them (Jetson's GPU device nodes belong to video and render).",
    )


class LlamaServer(NativeEngine):
    """`llama-server` from the llama.cpp build (seed 000)."""

    kind: Literal["llama-server"]
    thinking: bool | None = Field(None, description="`false` passes `--reasoning-budget 0` (seed 000's Qwen3-8B); unset leaves the model's default.")
    chat_template_file: AbsPath | None = Field(None, description="Jinja chat template file on the unit (`--chat-template-file`).")
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model", "host", "port", "alias", "api-key", "api-key-file", "chat-template-file", "reasoning-budget",
    })


class WhisperServer(NativeEngine):
    """`whisper-server` from the whisper.cpp build (seed 001)."""

    kind: Literal["whisper-server"]
    owned_flags: ClassVar[frozenset[str]] = frozenset({"model", "host", "port"})
    supports_api_key: ClassVar[bool] = False


class ContainerEngine(EngineBase):
    """An engine run from a container image with `docker run --runtime nvidia`."""

    image: Image = Field(description="Container image with a pinned tag, e.g. NVIDIA's vLLM image for Jetson.")
    volumes: list[SingleLine] = Field(
        default_factory=list, description="Extra `-v HOST:CONTAINER[:ro]` mounts; the model folder is mounted read-only by itself."
    )

    @model_validator(mode="after")
    def _volumes(self):
        for volume in self.volumes:
            parts = volume.split(":")
            if len(parts) not in (2, 3) or not parts[0].startswith("/") or not parts[1].startswith("/"):
                raise ValueError(f"volume {volume!r} is not 'HOST_PATH:CONTAINER_PATH[:ro]' with absolute paths")
            if len(parts) == 3 and parts[2] not in ("ro", "rw"):
                raise ValueError(f"volume {volume!r}: the third part must be 'ro' or 'rw'")
        return self


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
    def _thinking_needs_template(self):
        if self.thinking is False and not self.chat_template:
            raise ValueError(f"thinking: false on {self.kind} needs chat_template (seed 001 uses qwen3_nonthinking.jinja)")
        return self


class Vllm(LLMContainer):
    """vLLM's OpenAI-compatible server (`vllm serve`)."""

    kind: Literal["vllm"]
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model", "host", "port", "served-model-name", "api-key", "gpu-memory-utilization", "override-generation-config", "chat-template",
    })


class Sglang(LLMContainer):
    """SGLang's server (`python3 -m sglang.launch_server`)."""

    kind: Literal["sglang"]
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model-path", "host", "port", "served-model-name", "api-key", "mem-fraction-static", "preferred-sampling-params", "chat-template",
    })
    # SGLang takes its key only as `--api-key` on the command line, where every local user could read it.
    supports_api_key: ClassVar[bool] = False


class Ollama(ContainerEngine):
    """Ollama (`ollama serve`), which manages its own models under `models_dir`."""

    kind: Literal["ollama"]
    health_path: ClassVar[str] = "/api/tags"
    models_dir: AbsPath = Field("/var/lib/ollama", description="Host folder mounted as Ollama's model store.")
    supports_api_key: ClassVar[bool] = False


class Triton(ContainerEngine):
    """Triton Inference Server (`tritonserver`) over a model repository."""

    kind: Literal["triton"]
    health_path: ClassVar[str] = "/v2/health/ready"
    grpc_port: Port = Field(8001, description="gRPC port (`--grpc-port`).")
    metrics_port: Port = Field(8002, description="Prometheus metrics port (`--metrics-port`).")
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model-repository", "http-port", "grpc-port", "metrics-port", "http-address", "grpc-address", "metrics-address",
    })
    supports_api_key: ClassVar[bool] = False

    @property
    def ports(self) -> list[int]:
        return [self.port, self.grpc_port, self.metrics_port]


Engine = Annotated[
    Union[LlamaServer, WhisperServer, Vllm, Sglang, Ollama, Triton],
    Field(discriminator="kind"),
]

NATIVE_KINDS = {"llama-server": "llama_cpp", "whisper-server": "whisper_cpp"}
