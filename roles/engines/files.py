"""Files the engines role writes: one systemd unit and one environment file per engine instance."""

from roles.engines import commands
from roles.engines.config import NATIVE_KINDS
from thorfleet.render import RenderedFile, render_template

PROGRAMS = {"llama-server": "llama-server", "whisper-server": "whisper-server"}


def engine_argv(config, name: str, engine) -> list[list[str]]:
    """The engine's command line in parts (see commands.container_argv); join them for the plain argv."""
    model = config.model_of(engine)
    model_dir = config.model_store.dest(model) if model else None
    model_path = config.model_store.load_path(model) if model else None
    if commands.is_native(engine):
        binary = config.builds.current_bin(NATIVE_KINDS[engine.kind].replace("_", "."), PROGRAMS[engine.kind])
        return [commands.native_argv(name, engine, binary, model_path)]
    return commands.container_argv(name, engine, model_dir, model_path)


def engine_files(config, name: str, engine) -> list[RenderedFile]:
    model = config.model_of(engine)
    context = {
        "name": name,
        "engine": engine,
        "model_id": (model.id or model.url) if model else None,
        "argv": engine_argv(config, name, engine),
        "env_file": commands.env_file(name),
        "secret_env_file": commands.secret_env_file(name) if engine.kind == "vllm" and engine.api_key else None,
        "container": commands.container_name(name),
        "docker": commands.DOCKER,
        "mlock": _wants_mlock(engine),
    }
    template = "native" if commands.is_native(engine) else "container"
    unit = commands.unit_name(name)
    return [
        RenderedFile(f"/etc/systemd/system/{unit}.service",
                     render_template(f"roles/engines/{template}.service.j2", **context), role="engines"),
        RenderedFile(commands.env_file(name), render_template("roles/engines/engine.env.j2", **context), role="engines"),
    ]


def _wants_mlock(engine) -> bool:
    """llama-server locks the model in RAM with --mlock (older) or --load-mode mlock (newer)."""
    load_mode = str(engine.args.get("load-mode", ""))
    return bool(engine.args.get("mlock")) or "mlock" in load_mode


def rendered_files(config) -> list[RenderedFile]:
    return [f for name, engine in config.engines.items() for f in engine_files(config, name, engine)]
