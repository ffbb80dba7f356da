"""The command line of each engine kind, as an argv list (quoted for systemd by the unit template)."""

import json
from pathlib import PurePosixPath

from roles.engines.config import NATIVE_KINDS, ContainerEngine, EngineBase, LLMContainer, Ollama, Triton

DOCKER = "/usr/bin/docker"
ENGINE_CONFIG_DIR = "/etc/thorfleet/engines"


def unit_name(name: str) -> str:
    return f"thorfleet-{name}"


def api_key_file(name: str) -> str:
    """Written by the deploy (0400, the service user's), never rendered: it holds the secret."""
    return f"{ENGINE_CONFIG_DIR}/{name}.api-key"


def secret_env_file(name: str) -> str:
    """For container engines: the key as an environment variable the docker client passes on by name."""
    return f"{ENGINE_CONFIG_DIR}/{name}.secret.env"


def env_file(name: str) -> str:
    return f"{ENGINE_CONFIG_DIR}/{name}.env"


def flag_args(args: dict) -> list[str]:
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
                words += [flag, _scalar(item)]
    return words


def _scalar(value) -> str:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def served_name(name: str, engine: EngineBase) -> str:
    return engine.served_name or name


def native_argv(name: str, engine: EngineBase, binary: str, model_path: str) -> list[str]:
    argv = [binary, "--model", model_path, "--host", engine.bind, "--port", str(engine.port)]
    if engine.kind == "llama-server":
        argv += ["--alias", served_name(name, engine)]
        if engine.api_key:
            argv += ["--api-key-file", api_key_file(name)]
        if engine.thinking is False:
            argv += ["--reasoning-budget", "0"]
        if engine.chat_template_file:
            argv += ["--chat-template-file", engine.chat_template_file]
    return argv + flag_args(engine.args)


def container_name(name: str) -> str:
    return unit_name(name)


def container_argv(name: str, engine: ContainerEngine, model_dir: str | None, model_path: str | None) -> list[list[str]]:
    """`docker run` for a container engine: NVIDIA runtime, host network and IPC, model mounted read-only.

    Returned in three parts: the docker command, the image, the server command inside it."""
    argv = [DOCKER, "run", "--rm", "--name", container_name(name),
            "--runtime", "nvidia", "--network", "host", "--ipc", "host"]
    mounts = [f"{model_dir}:{model_dir}:ro"] if model_dir else []
    if isinstance(engine, LLMContainer) and engine.chat_template and not _inside(engine.chat_template, model_dir):
        mounts.append(f"{engine.chat_template}:{engine.chat_template}:ro")
    if isinstance(engine, Ollama):
        mounts.append(f"{engine.models_dir}:/root/.ollama")
    for mount in mounts + list(engine.volumes):
        argv += ["-v", mount]
    # Values come from the unit's EnvironmentFile; `-e NAME` passes them on without putting them here.
    for variable in env_names(engine):
        argv += ["-e", variable]
    if isinstance(engine, Ollama):
        argv += ["-e", f"OLLAMA_HOST={engine.bind}:{engine.port}"]
    return [argv, [engine.image], server_argv(name, engine, model_path)]


def env_names(engine: EngineBase) -> list[str]:
    names = sorted(engine.env)
    if engine.kind == "vllm" and engine.api_key:
        names.append("VLLM_API_KEY")
    return names


# The server command each container kind runs in its image (its `--help` lists the options).
ENTRY_COMMANDS = {
    "vllm": ["vllm", "serve"],
    "sglang": ["python3", "-m", "sglang.launch_server"],
    "triton": ["tritonserver"],
    "ollama": ["ollama", "serve"],
}


def server_argv(name: str, engine: ContainerEngine, model_path: str | None) -> list[str]:
    """The server command inside the container."""
    argv = list(ENTRY_COMMANDS[engine.kind])
    if engine.kind == "vllm":
        argv += [model_path, "--served-model-name", served_name(name, engine),
                 "--host", engine.bind, "--port", str(engine.port)]
        argv += _llm_options(engine, "--gpu-memory-utilization", "--override-generation-config")
    elif engine.kind == "sglang":
        argv += ["--model-path", model_path,
                 "--served-model-name", served_name(name, engine), "--host", engine.bind, "--port", str(engine.port)]
        argv += _llm_options(engine, "--mem-fraction-static", "--preferred-sampling-params")
    elif isinstance(engine, Triton):
        argv += [f"--model-repository={model_path}",
                 "--http-address", engine.bind, "--http-port", str(engine.port),
                 "--grpc-address", engine.bind, "--grpc-port", str(engine.grpc_port),
                 "--metrics-address", engine.bind, "--metrics-port", str(engine.metrics_port)]
    # ollama: address and port come from OLLAMA_HOST
    return argv + flag_args(engine.args)


def _llm_options(engine: LLMContainer, memory_flag: str, sampling_flag: str) -> list[str]:
    argv = []
    if engine.gpu_memory_utilization is not None:
        argv += [memory_flag, repr(engine.gpu_memory_utilization)]
    if engine.sampling:
        argv += [sampling_flag, _scalar(dict(engine.sampling))]
    if engine.chat_template:
        argv += ["--chat-template", engine.chat_template]
    return argv


def _inside(path: str, folder: str | None) -> bool:
    return folder is not None and PurePosixPath(folder) in PurePosixPath(path).parents


def is_native(engine: EngineBase) -> bool:
    return engine.kind in NATIVE_KINDS
