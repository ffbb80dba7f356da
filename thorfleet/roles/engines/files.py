"""Files the engines role writes: one systemd unit and one environment file per engine instance."""

from typing import Any

from thorfleet.core import paths
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.render import RenderedFile, render_template
from thorfleet.roles.engines import commands
from thorfleet.roles.engines.config import EngineBase, NativeEngine
from thorfleet.roles.engines.kinds import LlamaRouter
from thorfleet.roles.engines.router import preset_ini


def engine_files(config: Any, name: str, engine: EngineBase) -> list[RenderedFile]:
    model = commands.model_of(config, engine)
    native = isinstance(engine, NativeEngine)
    context = {
        "name": name,
        "engine": engine,
        "model_id": (model.id or model.url) if model else None,
        "argv": commands.engine_argv(config, name, engine),
        "env_file": commands.env_file(name),
        "secret_env_file": commands.secret_env_file(name) if engine.api_key and engine.api_key_via == "env" else None,
        "container": paths.unit_name(name),
        "docker": commands.DOCKER,
        "mlock": engine.locks_memory(config),
    }
    files = [
        RenderedFile(paths.unit_file(paths.unit_name(name)),
                     render_template(f"roles/engines/{'native' if native else 'container'}.service.j2", **context), role="engines"),
        RenderedFile(commands.env_file(name), render_template("roles/engines/engine.env.j2", **context), role="engines"),
    ]
    if isinstance(engine, LlamaRouter):
        files.append(RenderedFile(commands.preset_file(name), preset_ini(engine.presets(config)), role="engines"))
    return files


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    config = unit.config
    return [f for name, engine in config.engines.items() for f in engine_files(config, name, engine)]
