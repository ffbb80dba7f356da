"""Checks of the engines' keys against each other and against the other roles' keys."""

import ipaddress
from collections.abc import Iterator
from typing import Any

from thorfleet.core.role import Problem
from thorfleet.roles.engines.config import ContainerEngine, EngineBase, NativeEngine

# Ports a Thor unit already uses for itself.
RESERVED_PORTS = {22: "sshd"}


def problems(config: Any) -> Iterator[Problem]:
    for name, engine in config.engines.items():
        yield from ((("engines", name) + sub, reason) for sub, reason in _engine_problems(config, engine))
    yield from _port_clashes(config)


def _engine_problems(config: Any, engine: EngineBase) -> Iterator[Problem]:
    if engine.model is None:
        if engine.needs_model:
            yield ("model",), f"{engine.kind} needs a model (a name under models)"
    elif engine.model not in config.models:
        known = ", ".join(sorted(config.models)) or "none"
        yield ("model",), f"refers to model {engine.model!r}, which is not defined under models (defined: {known})"
    elif isinstance(engine, NativeEngine):
        model = config.models[engine.model]
        if model.source != "url" and not model.file:
            yield ("model",), f"{engine.kind} loads one file: set models.{engine.model}.file (e.g. the .gguf or .bin)"
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


def _port_clashes(config: Any) -> Iterator[Problem]:
    taken: list[tuple[int, str, str]] = []  # port, address, owner
    for name, engine in config.engines.items():
        for port in engine.ports:
            if port in RESERVED_PORTS:
                yield ("engines", name, "port"), f"port {port} is used by {RESERVED_PORTS[port]} on every unit"
            for other_port, other_addr, owner in taken:
                if port == other_port and _overlap(engine.bind, other_addr):
                    yield ("engines", name, "port"), f"port {port} on {engine.bind} is already used by engine {owner!r}"
            taken.append((port, engine.bind, name))


def _overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    return ipaddress.ip_address(a).is_unspecified or ipaddress.ip_address(b).is_unspecified
