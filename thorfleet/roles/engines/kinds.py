"""The engine kinds, each described once: its keys, command line, program or image command, API key
delivery, health path and what the verify checks ask of it. Adding a kind is a class here and its
entry in KINDS (docs/architecture.md, "Add an engine kind")."""

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field

from thorfleet.core.types import AbsPath, Port
from thorfleet.roles.engines.config import ContainerEngine, Launch, LLMContainer, NativeEngine


class LlamaServer(NativeEngine):
    """`llama-server` from the llama.cpp build (seed 000)."""

    kind: Literal["llama-server"]
    thinking: bool | None = Field(None, description="`false` passes `--reasoning-budget 0` (seed 000's Qwen3-8B); unset leaves the model's default.")
    chat_template_file: AbsPath | None = Field(None, description="Jinja chat template file on the unit (`--chat-template-file`).")

    build: ClassVar[str] = "llama_cpp"
    program: ClassVar[str] = "llama-server"
    api_key_via: ClassVar[str] = "file"
    serves: ClassVar[str] = "chat"
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model", "host", "port", "alias", "api-key", "api-key-file", "chat-template-file", "reasoning-budget",
    })
    # llama.cpp `common/arg.cpp`: --no-mmap and --mlock became --load-mode.
    renamed_flags: ClassVar[dict[str, tuple[str, str]]] = {
        "no-mmap": ("load-mode", "load-mode: none (or load-mode: mlock together with mlock)"),
        "mlock": ("load-mode", "load-mode: mmap+mlock (or load-mode: mlock together with no-mmap)"),
    }

    def command_args(self, launch: Launch) -> list[str]:
        argv = ["--model", launch.model_path, "--host", self.bind, "--port", str(self.port), "--alias", launch.served_name]
        if self.api_key:
            argv += ["--api-key-file", launch.api_key_file]
        if self.thinking is False:
            argv += ["--reasoning-budget", "0"]
        if self.chat_template_file:
            argv += ["--chat-template-file", self.chat_template_file]
        return argv

    @property
    def locks_memory(self) -> bool:
        """The model is locked in RAM: --mlock (older builds) or --load-mode mlock (newer)."""
        return bool(self.args.get("mlock")) or "mlock" in str(self.args.get("load-mode", ""))


class WhisperServer(NativeEngine):
    """`whisper-server` from the whisper.cpp build (seed 001)."""

    kind: Literal["whisper-server"]

    build: ClassVar[str] = "whisper_cpp"
    program: ClassVar[str] = "whisper-server"
    serves: ClassVar[str] = "transcription"
    owned_flags: ClassVar[frozenset[str]] = frozenset({"model", "host", "port"})

    def command_args(self, launch: Launch) -> list[str]:
        return ["--model", launch.model_path, "--host", self.bind, "--port", str(self.port)]


class Vllm(LLMContainer):
    """vLLM's OpenAI-compatible server (`vllm serve`)."""

    kind: Literal["vllm"]

    entry_command: ClassVar[tuple[str, ...]] = ("vllm", "serve")
    api_key_via: ClassVar[str] = "env"
    api_key_env: ClassVar[str] = "VLLM_API_KEY"
    serves: ClassVar[str] = "chat"
    memory_flag: ClassVar[str] = "--gpu-memory-utilization"
    sampling_flag: ClassVar[str] = "--override-generation-config"
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model", "host", "port", "served-model-name", "api-key", "gpu-memory-utilization", "override-generation-config", "chat-template",
    })

    def command_args(self, launch: Launch) -> list[str]:
        return [launch.model_path, "--served-model-name", launch.served_name,
                "--host", self.bind, "--port", str(self.port)] + self.llm_options()


class Sglang(LLMContainer):
    """SGLang's server (`python3 -m sglang.launch_server`)."""

    kind: Literal["sglang"]

    entry_command: ClassVar[tuple[str, ...]] = ("python3", "-m", "sglang.launch_server")
    # SGLang takes its key only as `--api-key` on the command line, where every local user could read it.
    api_key_via: ClassVar[None] = None
    serves: ClassVar[str] = "chat"
    memory_flag: ClassVar[str] = "--mem-fraction-static"
    sampling_flag: ClassVar[str] = "--preferred-sampling-params"
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model-path", "host", "port", "served-model-name", "api-key", "mem-fraction-static", "preferred-sampling-params", "chat-template",
    })

    def command_args(self, launch: Launch) -> list[str]:
        return ["--model-path", launch.model_path, "--served-model-name", launch.served_name,
                "--host", self.bind, "--port", str(self.port)] + self.llm_options()


class Ollama(ContainerEngine):
    """Ollama (`ollama serve`), which manages its own models under `models_dir`."""

    kind: Literal["ollama"]
    models_dir: AbsPath = Field("/var/lib/ollama", description="Host folder mounted as Ollama's model store.")

    entry_command: ClassVar[tuple[str, ...]] = ("ollama", "serve")
    health_path: ClassVar[str] = "/api/tags"
    needs_model: ClassVar[bool] = False

    def kind_mounts(self, launch: Launch) -> list[str]:
        return [f"{self.models_dir}:/root/.ollama"]

    def kind_env(self) -> list[str]:
        # Its address and port come from OLLAMA_HOST, not from flags.
        return [f"OLLAMA_HOST={self.bind}:{self.port}"]

    def command_args(self, launch: Launch) -> list[str]:
        return []


class Triton(ContainerEngine):
    """Triton Inference Server (`tritonserver`) over a model repository."""

    kind: Literal["triton"]
    grpc_port: Port = Field(8001, description="gRPC port (`--grpc-port`).")
    metrics_port: Port = Field(8002, description="Prometheus metrics port (`--metrics-port`).")

    entry_command: ClassVar[tuple[str, ...]] = ("tritonserver",)
    health_path: ClassVar[str] = "/v2/health/ready"
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model-repository", "http-port", "grpc-port", "metrics-port", "http-address", "grpc-address", "metrics-address",
    })

    @property
    def ports(self) -> list[int]:
        return [self.port, self.grpc_port, self.metrics_port]

    def command_args(self, launch: Launch) -> list[str]:
        return [f"--model-repository={launch.model_path}",
                "--http-address", self.bind, "--http-port", str(self.port),
                "--grpc-address", self.bind, "--grpc-port", str(self.grpc_port),
                "--metrics-address", self.bind, "--metrics-port", str(self.metrics_port)]


# Every kind, in the order the docs list them.
KINDS = (LlamaServer, WhisperServer, Vllm, Sglang, Ollama, Triton)

Engine = Annotated[Union[KINDS], Field(discriminator="kind")]


def kind_name(kind: type) -> str:
    return kind.model_fields["kind"].annotation.__args__[0]


def by_name(kind: str) -> type:
    """The class of a kind, from its name in the config (`llama-server`)."""
    return {kind_name(k): k for k in KINDS}[kind]
