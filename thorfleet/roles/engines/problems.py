"""Checks of the engines' keys against each other and against the other roles' keys, and what they listen on."""

from collections.abc import Iterator
from typing import Any

from thorfleet.core.fleet import FleetHost
from thorfleet.core.role import Listener, Problem
from thorfleet.roles.engines.config import ContainerEngine, EngineBase, NativeEngine


def problems(config: Any) -> Iterator[Problem]:
    for name, engine in config.engines.items():
        yield from ((("engines", name) + sub, reason) for sub, reason in _engine_problems(config, engine))


def _engine_problems(config: Any, engine: EngineBase) -> Iterator[Problem]:
    if engine.model is None and engine.needs_model:
        yield ("model",), f"{engine.kind} needs a model (a name under models)"
    # Each model it serves: its own `model`, or each of a router's `models.<name>.model`.
    at = {served: ("models", served, "model") for served in getattr(engine, "models", {})}
    for served, model in engine.served(""):
        path = at.get(served, ("model",))
        if model is None:
            continue
        if model not in config.models:
            known = ", ".join(sorted(config.models)) or "none"
            yield path, f"refers to model {model!r}, which is not defined under models (defined: {known})"
        elif isinstance(engine, NativeEngine) and config.models[model].source != "url" and not config.models[model].file:
            yield path, f"{engine.kind} loads one file: set models.{model}.file (e.g. the .gguf or .bin)"
    if engine.exposed and not engine.api_key and not engine.allow_unauthenticated:
        if engine.supports_api_key:
            yield ("bind",), (f"listens on {engine.bind} without authentication: set api_key (env or file), "
                              "bind 127.0.0.1, or set allow_unauthenticated: true to expose it anyway")
        else:
            yield ("bind",), (f"{engine.kind} has no authentication and would listen on {engine.bind}: "
                              "bind 127.0.0.1, or set allow_unauthenticated: true to expose it anyway")
    if isinstance(engine, NativeEngine):
        yield from _renamed_flags(config, engine)
    if "engines" in config.roles:
        if isinstance(engine, NativeEngine) and "builds" not in config.roles:
            yield ("kind",), f"{engine.kind} runs the {engine.build} build, but the builds role is not in roles"
        if isinstance(engine, ContainerEngine) and "docker" not in config.roles:
            yield ("kind",), f"{engine.kind} runs in a container, but the docker role is not in roles"


def _renamed_flags(config: Any, engine: NativeEngine) -> Iterator[Problem]:
    """Flags the pinned build renamed (the kind's renamed_flags); other refs are checked on the unit."""
    build = getattr(config.builds, engine.build)
    if not engine.renamed_flags or build.ref != type(build).model_fields["ref"].default:
        return
    for flag, value in engine.args.items():
        if flag in engine.renamed_flags and value not in (False, None):
            replacement, how = engine.renamed_flags[flag]
            yield ("args", flag), (f"the pinned {engine.build.replace('_', '.')} ({build.ref[:12]}) has no "
                                   f"--{flag}: it became --{replacement}; write {how}")


def listeners(host: FleetHost) -> Iterator[Listener]:
    """Each port of each engine, on its `bind`; a container's server binds as the container's root."""
    for name, engine in host.config.engines.items():
        for key in engine.port_keys:
            yield Listener(("engines", name, key), engine.bind, getattr(engine, key), f"engine {name!r}",
                           privileged=isinstance(engine, ContainerEngine))
