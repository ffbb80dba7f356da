"""The engine kinds, each described once: its keys, command line, program or image command, API key
delivery, health path and what the verify checks ask of it. Adding a kind is a class here and its
entry in KINDS (docs/architecture.md, "Add an engine kind")."""

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, Union, get_args

from pydantic import Field, model_validator

from thorfleet.core.fleet import CHAT, TRANSCRIPTION, EngineMetrics
from thorfleet.core.model_shape import ModelFacts
from thorfleet.core.role import Problem
from thorfleet.core.types import AbsPath, KeyProblem, Name, Port, StrictModel
from thorfleet.roles.engines.advice import llama_server_advice
from thorfleet.roles.engines.config import Args, ContainerEngine, EngineBase, Launch, LLMContainer, NativeEngine, check_args, flag_args
from thorfleet.roles.engines.memory import UNKNOWN, WHISPER_COMPUTE, EngineNeed, llama_need
from thorfleet.roles.engines.router import router_need

# What llama-server is given when `args` leave a setting unsaid (docs/tuning.md has the measurement
# behind each): per profile, the slots and batch sizes, and no host-memory prompt cache (the pinned
# build's 8 GiB cache copied each finished request's KV state out, on the request path: -30 % output
# tok/s, +100 % TTFT at seed 002's loads); on a CUDA build, every layer on the GPU,
# flash attention, and the model read into memory and locked (not mapped: the pinned build copies
# mapped weights to the GPU on an integrated GPU, so a mapped file would be held twice).
PROFILES = {
    "throughput": {"parallel": 8, "ubatch-size": 1024, "batch-size": 2048, "cache-ram": 0},  # seed 002's high load
    "latency": {"parallel": 2, "ubatch-size": 2048, "batch-size": 2048, "cache-ram": 0},  # seed 002's single request
}
GPU_DEFAULTS = {"gpu-layers": 999, "flash-attn": "on", "load-mode": "mlock"}
# Other spellings of one setting: a default is not rendered when the user wrote any of them.
SPELLINGS = {"gpu-layers": ("n-gpu-layers",), "load-mode": ("mlock", "no-mmap", "mmap"), "flash-attn": ("no-flash-attn",)}
# `--metrics` (tools/server/server-context.cpp): behind the API key like every path but /health.
LLAMA_METRICS = EngineMetrics(
    "/metrics", "llamacpp:requests_processing", "llamacpp:requests_deferred", "llamacpp:prompt_tokens_total",
    "llamacpp:tokens_predicted_total",
    panels=(("llama-server: tokens/s while decoding", "llamacpp:predicted_tokens_seconds{engine}"),
            ("llama-server: decode calls/s", "rate(llamacpp:n_decode_total{engine}[1m])")))


class LlamaModelSettings(StrictModel):
    """What llama-server is told about one model: a llama-server engine's, and each model's of a llama-router."""

    if TYPE_CHECKING:
        args: dict[str, Any]  # the engine's or the router model's own `args`

    profile: Literal["throughput", "latency"] = Field(
        "throughput", description="What the settings `args` leave unsaid are chosen for: `throughput` (8 slots, seed 002's "
        "concurrency 8) or `latency` (2 slots, bigger prompt batches; seed 002's single request).")
    slot_context: int = Field(
        8192, ge=256, le=1 << 20, description="Tokens one request may hold (prompt and reply). With `parallel` set or "
        "defaulted and `ctx-size` unset, `ctx-size` is rendered as slots × this, so each slot gets exactly this much.")
    thinking: bool | None = Field(None, description="`false` passes `--reasoning-budget 0` (seed 000's Qwen3-8B); unset leaves the model's default.")
    chat_template_file: AbsPath | None = Field(None, description="Jinja chat template file on the unit (`--chat-template-file`).")

    # Flags rendered from the keys above, or by llama-server's owner (model, address, name, key).
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model", "host", "port", "alias", "api-key", "api-key-file", "chat-template-file", "reasoning-budget", "metrics",
    })
    # Read by the memory plan (memory.py) and the rendered defaults; `-1`/`0` keep llama.cpp's meanings.
    count_flags: ClassVar[frozenset[str]] = frozenset({"ctx-size", "parallel", "ubatch-size", "batch-size", "cache-ram"})

    def model_flags(self) -> dict[str, Any]:
        """The flags its own keys render (beside the model file, address and name)."""
        return {"reasoning-budget": 0 if self.thinking is False else None, "chat-template-file": self.chat_template_file}

    def defaults_over(self, cuda: bool) -> dict[str, Any]:
        """`args` over the defaults for what they leave unsaid (PROFILES, GPU_DEFAULTS). A `ctx-size`
        the user wrote keeps llama.cpp's own slot count; otherwise the context is sized per slot."""
        defaults = dict(PROFILES[self.profile]) | (GPU_DEFAULTS if cuda else {})
        if "ctx-size" in self.args:
            del defaults["parallel"]
        else:
            slots = self.args.get("parallel", defaults["parallel"])
            if isinstance(slots, int) and slots > 0:
                defaults["ctx-size"] = slots * self.slot_context
        unsaid = {k: v for k, v in defaults.items() if not {k, *SPELLINGS.get(k, ())} & set(self.args)}
        return unsaid | self.args


class LlamaServer(LlamaModelSettings, NativeEngine):
    """`llama-server` from the llama.cpp build (seed 000)."""

    kind: Literal["llama-server"]

    build: ClassVar[str] = "llama_cpp"
    program: ClassVar[str] = "llama-server"
    bench_program: ClassVar[str | None] = "llama-bench"
    api_key_via: ClassVar[Literal["file", "env"] | None] = "file"
    serves: ClassVar[str] = CHAT
    metrics: ClassVar[EngineMetrics] = LLAMA_METRICS
    # llama.cpp `common/arg.cpp`: --no-mmap and --mlock became --load-mode.
    renamed_flags: ClassVar[dict[str, tuple[str, str]]] = {
        "no-mmap": ("load-mode", "load-mode: none (or load-mode: mlock together with mlock)"),
        "mlock": ("load-mode", "load-mode: mmap+mlock (or load-mode: mlock together with no-mmap)"),
    }

    def command_args(self, launch: Launch) -> list[str]:
        argv = ["--model", launch.model, "--host", self.bind, "--port", str(self.port), "--alias", launch.served_name, "--metrics"]
        if self.api_key:
            argv += ["--api-key-file", launch.api_key_file]
        return argv + flag_args(self.model_flags())

    def advice(self, config: Any) -> Iterator[Problem]:
        return llama_server_advice(self, config)

    def rendered_args(self, config: Any) -> dict[str, Any]:
        return self.defaults_over(getattr(config.builds, self.build).cuda)

    def memory_need(self, config: Any, name: str, facts: ModelFacts | None) -> EngineNeed:
        return llama_need(name, self.kind, self.rendered_args(config), facts)

    def locks_memory(self, config: Any) -> bool:
        return locks_memory(self.rendered_args(config))


def locks_memory(args: dict[str, Any]) -> bool:
    """The model is locked in RAM: --mlock (older builds) or --load-mode mlock (newer)."""
    return bool(args.get("mlock")) or "mlock" in str(args.get("load-mode", ""))


class RouterModel(LlamaModelSettings):
    """One model of a llama-router: its own llama-server settings, and when it is loaded."""

    model: Name = Field(description="Name of an entry under `models` (a .gguf file).")
    args: Args = Field(default_factory=dict, description="Its llama-server flags, without dashes (as an engine's `args`); "
                       "one value each (router mode passes one value per flag).")
    load_on_startup: bool = Field(False, description="Loaded when the router starts (else on its first request).")
    sleep_idle_seconds: int | None = Field(
        None, ge=-1, description="Seconds without a request after which it unloads its weights and KV cache (the process "
        "stays, and wakes on the next request); -1: never; unset: the router's `sleep_idle_seconds`.")
    stop_timeout: int = Field(10, ge=1, le=600, description="Seconds an unloading model may finish before it is killed.")

    # Besides a model's own flags, what the router sets for every model.
    owned_flags: ClassVar[frozenset[str]] = LlamaModelSettings.owned_flags | {
        "sleep-idle-seconds", "load-on-startup", "stop-timeout", "models-preset", "models-max", "models-dir", "models-autoload"}

    @model_validator(mode="after")
    def _checks(self) -> Self:
        check_args(self.args, self.owned_flags, self.count_flags, "the router model's own keys (model, sleep_idle_seconds, ...)")
        listed = sorted(flag for flag, value in self.args.items() if isinstance(value, list))
        if listed:
            raise KeyProblem(f"args.{listed[0]}", "router mode passes one value per flag: a list cannot be given here")
        return self

    def preset(self, model_path: str, cuda: bool, idle: int | None) -> dict[str, Any]:
        """Its INI section: the model file, its flags over the rendered defaults, when it loads and sleeps."""
        return {"model": model_path, **self.model_flags(), **self.defaults_over(cuda),
                "sleep-idle-seconds": self.sleep_idle_seconds if self.sleep_idle_seconds is not None else idle,
                "load-on-startup": self.load_on_startup, "stop-timeout": self.stop_timeout}


class LlamaRouter(NativeEngine):
    """`llama-server` in router mode: several models behind one port, each loaded on demand in a process
    of its own (routed by the request's `model`), at most `models_max` at once, the least recently used
    unloaded to make room; an idle model sleeps after `sleep_idle_seconds` (roles/engines/router.py)."""

    kind: Literal["llama-router"]
    models: dict[Name, RouterModel] = Field(
        min_length=1, description="The models it serves, by the name clients ask for, each with its llama-server settings.")
    models_max: int = Field(2, ge=0, description="Most models loaded at once (0: no limit); the memory plan counts this many "
                            "of the largest. The pinned build cannot pin a model: a loaded one is unloaded when another "
                            "needs its place and it is the least recently used.")
    sleep_idle_seconds: int = Field(600, ge=-1, description="Default for each model: seconds idle before it sleeps (-1: never).")

    build: ClassVar[str] = "llama_cpp"
    program: ClassVar[str] = "llama-server"
    api_key_via: ClassVar[Literal["file", "env"] | None] = "file"
    serves: ClassVar[str] = CHAT
    needs_model: ClassVar[bool] = False
    metrics: ClassVar[EngineMetrics] = LLAMA_METRICS
    owned_flags: ClassVar[frozenset[str]] = RouterModel.owned_flags
    # Keys of every engine that a router has no use for: its models are listed, by name, under `models`.
    unused_keys: ClassVar[frozenset[str]] = frozenset({"model", "served_name"})

    @model_validator(mode="after")
    def _models_listed(self) -> Self:
        for key in sorted(self.unused_keys & self.model_fields_set):
            raise KeyProblem(key, "a llama-router serves the models listed under its `models`, each by its name there")
        return self

    def served(self, name: str) -> list[tuple[str, str | None]]:
        return [(served, model.model) for served, model in self.models.items()]

    def command_args(self, launch: Launch) -> list[str]:
        argv = ["--models-preset", launch.preset_file, "--models-max", str(self.models_max),
                "--host", self.bind, "--port", str(self.port), "--metrics"]
        return argv + (["--api-key-file", launch.api_key_file] if self.api_key else [])

    def presets(self, config: Any) -> dict[str, dict[str, Any]]:
        """Each model's INI section (router.preset_ini writes them)."""
        cuda = getattr(config.builds, self.build).cuda
        return {served: model.preset(config.model_store.load_path(config.models[model.model]), cuda, self.sleep_idle_seconds)
                for served, model in self.models.items() if model.model in config.models}

    def planned_need(self, config: Any, name: str, facts_of: Callable[[Any], ModelFacts | None]) -> EngineNeed:
        cuda = getattr(config.builds, self.build).cuda
        models = {served: (model.defaults_over(cuda), config.models.get(model.model)) for served, model in self.models.items()}
        return router_need(name, self.kind, models, self.models_max,
                           lambda entry: facts_of(entry) if entry is not None else None)

    def locks_memory(self, config: Any) -> bool:
        return any(locks_memory(preset) for preset in self.presets(config).values())


class WhisperServer(NativeEngine):
    """`whisper-server` from the whisper.cpp build (seed 001)."""

    kind: Literal["whisper-server"]

    build: ClassVar[str] = "whisper_cpp"
    program: ClassVar[str] = "whisper-server"
    serves: ClassVar[str] = TRANSCRIPTION
    owned_flags: ClassVar[frozenset[str]] = frozenset({"model", "host", "port"})

    def command_args(self, launch: Launch) -> list[str]:
        return ["--model", launch.model, "--host", self.bind, "--port", str(self.port)]

    def memory_need(self, config: Any, name: str, facts: ModelFacts | None) -> EngineNeed:
        if facts is None or facts.size_bytes is None:
            return EngineNeed(name, self.kind, note=UNKNOWN)
        return EngineNeed(name, self.kind, weights=facts.size_bytes, compute=WHISPER_COMPUTE)


class Vllm(LLMContainer):
    """vLLM's OpenAI-compatible server (`vllm serve`)."""

    kind: Literal["vllm"]

    entry_command: ClassVar[tuple[str, ...]] = ("vllm", "serve")
    api_key_via: ClassVar[Literal["file", "env"] | None] = "env"
    api_key_env: ClassVar[str] = "VLLM_API_KEY"
    serves: ClassVar[str] = CHAT
    memory_flag: ClassVar[str] = "--gpu-memory-utilization"
    sampling_flag: ClassVar[str] = "--override-generation-config"
    # Always on, on the API port (vllm/v1/metrics/loggers.py), behind the key.
    metrics: ClassVar[EngineMetrics] = EngineMetrics(
        "/metrics", "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:prompt_tokens_total", "vllm:generation_tokens_total")
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model", "host", "port", "served-model-name", "api-key", "gpu-memory-utilization", "override-generation-config", "chat-template",
    })

    def command_args(self, launch: Launch) -> list[str]:
        return [launch.model, "--served-model-name", launch.served_name,
                "--host", self.bind, "--port", str(self.port)] + self.llm_options()


class Sglang(LLMContainer):
    """SGLang's server (`python3 -m sglang.launch_server`)."""

    kind: Literal["sglang"]

    entry_command: ClassVar[tuple[str, ...]] = ("python3", "-m", "sglang.launch_server")
    # SGLang takes its key only as `--api-key` on the command line, where every local user could read it.
    api_key_via: ClassVar[None] = None
    serves: ClassVar[str] = CHAT
    memory_flag: ClassVar[str] = "--mem-fraction-static"
    sampling_flag: ClassVar[str] = "--preferred-sampling-params"
    # `--enable-metrics` (python/sglang/srt/metrics/collector.py); off unless asked.
    metrics: ClassVar[EngineMetrics] = EngineMetrics(
        "/metrics", "sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:prompt_tokens_total", "sglang:generation_tokens_total")
    owned_flags: ClassVar[frozenset[str]] = frozenset({
        "model-path", "host", "port", "served-model-name", "api-key", "mem-fraction-static", "preferred-sampling-params", "chat-template",
        "enable-metrics",
    })

    def command_args(self, launch: Launch) -> list[str]:
        return ["--model-path", launch.model, "--served-model-name", launch.served_name,
                "--host", self.bind, "--port", str(self.port), "--enable-metrics"] + self.llm_options()


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

    port_keys: ClassVar[tuple[str, ...]] = ("port", "grpc_port", "metrics_port")

    def command_args(self, launch: Launch) -> list[str]:
        return [f"--model-repository={launch.model}",
                "--http-address", self.bind, "--http-port", str(self.port),
                "--grpc-address", self.bind, "--grpc-port", str(self.grpc_port),
                "--metrics-address", self.bind, "--metrics-port", str(self.metrics_port)]


# Every kind, in the order the docs list them.
Engine = Annotated[Union[LlamaServer, LlamaRouter, WhisperServer, Vllm, Sglang, Ollama, Triton], Field(discriminator="kind")]
KINDS: tuple[type[EngineBase], ...] = get_args(get_args(Engine)[0])


def kind_name(kind: type[EngineBase]) -> str:
    return str(get_args(kind.model_fields["kind"].annotation)[0])


def by_name(kind: str) -> type[EngineBase]:
    """The class of a kind, from its name in the config (`llama-server`)."""
    return {kind_name(k): k for k in KINDS}[kind]
