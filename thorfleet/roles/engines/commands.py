"""An engine's command line as argv parts (quoted for systemd by the unit template), and the files
it owns on the unit. What differs per kind is asked of the kind (kinds.py); this is the shared frame."""

from typing import Any

from thorfleet.core import paths
from thorfleet.roles.engines.config import ContainerEngine, EngineBase, Launch, NativeEngine, flag_args

DOCKER = "/usr/bin/docker"


def api_key_file(name: str) -> str:
    """Written by the deploy (0640, readable by the service user), never rendered: it holds the secret."""
    return f"{paths.ENGINE_CONFIG_DIR}/{name}.api-key"


def secret_env_file(name: str) -> str:
    """For engines that take the key from the environment: root-only, read by systemd."""
    return f"{paths.ENGINE_CONFIG_DIR}/{name}.secret.env"


def env_file(name: str) -> str:
    return f"{paths.ENGINE_CONFIG_DIR}/{name}.env"


def state_record(name: str) -> str:
    """What the engine was last (re)started with (its fingerprint), written once it answered healthy."""
    return f"{paths.ENGINE_STATE_DIR}/{name}.json"


def owned_files(name: str) -> list[str]:
    """Every file of an engine on the unit, for its removal."""
    return [paths.unit_file(paths.unit_name(name)), env_file(name), preset_file(name), secret_env_file(name),
            api_key_file(name), state_record(name)]


def served_name(name: str, engine: EngineBase) -> str:
    """The name clients ask for: the first model's of an engine that serves several (a llama-router)."""
    return engine.served(name)[0][0]


def preset_file(name: str) -> str:
    """A llama-router's models, one INI section each (roles/engines/router.py)."""
    return f"{paths.ENGINE_CONFIG_DIR}/{name}.models.ini"


def model_of(config: Any, engine: EngineBase) -> Any:
    """The entry under `models` the engine serves (None for a kind that manages its own)."""
    return config.models.get(engine.model) if engine.model else None


def program_path(config: Any, engine: NativeEngine) -> str:
    """The engine's program in the build that `current` points at."""
    return str(config.builds.current_bin(engine.build.replace("_", "."), engine.program))


def launch(config: Any, name: str, engine: EngineBase) -> Launch:
    model = model_of(config, engine)
    return Launch(name=name, served_name=served_name(name, engine),
                  model_dir=config.model_store.dest(model) if model else None,
                  model_path=config.model_store.load_path(model) if model else None,
                  api_key_file=api_key_file(name), preset_file=preset_file(name))


def engine_argv(config: Any, name: str, engine: EngineBase) -> list[list[str]]:
    """The command line in parts: [program + arguments] for a native engine; for a container, the
    docker command, the image, and the server command inside it. The last part is what the flag
    check compares with the engine's --help."""
    ctx = launch(config, name, engine)
    if isinstance(engine, NativeEngine):
        return [[program_path(config, engine), *engine.command_args(ctx), *flag_args(engine.rendered_args(config))]]
    assert isinstance(engine, ContainerEngine)  # every kind is one or the other
    return [docker_argv(name, engine, ctx), [engine.image],
            [*engine.entry_command, *engine.command_args(ctx), *flag_args(engine.rendered_args(config))]]


def docker_argv(name: str, engine: ContainerEngine, ctx: Launch) -> list[str]:
    """`docker run` with the NVIDIA runtime, host network and IPC, the model mounted read-only.
    Environment values come from the unit's EnvironmentFile: `-e NAME` passes them on by name only."""
    argv = [DOCKER, "run", "--rm", "--name", paths.unit_name(name), "--runtime", "nvidia", "--network", "host", "--ipc", "host"]
    for mount in engine.mounts(ctx):
        argv += ["-v", mount]
    names = sorted(engine.env) + ([engine.api_key_env] if engine.api_key and engine.api_key_env and engine.api_key_via == "env" else [])
    for setting in names + engine.kind_env():
        argv += ["-e", setting]
    return argv
