"""The engines role: one systemd unit per engine instance, restarted only when what it runs changed."""

import hashlib
import ipaddress
from typing import Any

from pyinfra.api.deploy import deploy

from thorfleet.core.fleet import BUILD_IDS, ENGINE_FRONTS, MODEL_CATALOGUE, ROUTER, FleetHost, FleetView
from thorfleet.core.render import RenderedFile
from thorfleet.core.secret_file import SecretFile
from thorfleet.roles.engines import commands
from thorfleet.roles.engines.config import ContainerEngine, EngineBase, NativeEngine, flag_args
from thorfleet.roles.engines.kinds import LlamaRouter
from thorfleet.roles.engines.router import PRESET_ONLY
from thorfleet.roles.engines.files import engine_files
from thorfleet.roles.engines.operations import engine_serving, engines_removed, service_user


# The fingerprint field of each file an engine has, by its suffix (files.py).
FILE_FIELDS = {"service": "unit", "env": "env", "ini": "preset"}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def local_address(engine: EngineBase) -> str:
    """Where the engine is reached from its own unit: loopback when it listens on every address."""
    address = ipaddress.ip_address(engine.bind)
    if address.is_unspecified or address.is_loopback:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return str(address)


def engine_url(engine: EngineBase, path: str) -> str:
    address = local_address(engine)
    shown = f"[{address}]" if ":" in address else address
    return f"http://{shown}:{engine.port}{path}"


def health_url(engine: EngineBase) -> str:
    return engine_url(engine, engine.health_path)


def engine_fingerprint(unit: FleetHost, fleet: FleetView, engine: EngineBase, rendered: list[RenderedFile],
                       key: str | None) -> dict[str, Any]:
    """What the engine runs: a change in any part restarts it (and checks its flags first)."""
    config, catalogue = unit.config, fleet.fact(MODEL_CATALOGUE)
    models = [model for _, model in engine.served("") if model is not None and model in config.models]
    fingerprint: dict[str, Any] = {"model": catalogue.fingerprint(config, models[0]) if len(models) == 1 else None}
    if len(models) > 1:  # a router: one field for all its models, so that a single engine's record keeps its shape
        fingerprint["model"] = digest(" ".join(catalogue.fingerprint(config, model) for model in models))
    if key is not None:
        fingerprint["key"] = digest(key)
    for file in rendered:
        fingerprint[FILE_FIELDS[file.dest.rsplit(".", 1)[-1]]] = digest(file.content)
    if isinstance(engine, NativeEngine):
        fingerprint["build"] = fleet.fact(BUILD_IDS)[unit.name, engine.build]
    elif isinstance(engine, ContainerEngine):
        fingerprint["image"] = engine.image
    return fingerprint


def service_users(config: Any) -> None:
    native = {e.user: e.groups for e in config.engines.values() if isinstance(e, NativeEngine)}
    for user, groups in sorted(native.items()):
        service_user(name=f"Service user {user}", user=user, groups=sorted(groups), _sudo=True)


def flags_to_check(config: Any, name: str, engine: EngineBase) -> dict[str, Any] | None:
    """What the engine op checks before a (re)start: the kind, the command line whose flags count
    (the program's, or the server command's in the image), and for containers the image and entry."""
    if not engine.check_flags:
        return None
    argv = commands.engine_argv(config, name, engine)[-1]
    if isinstance(engine, ContainerEngine):
        return {"kind": engine.kind, "argv": argv, "image": engine.image, "entry": list(engine.entry_command)}
    if isinstance(engine, LlamaRouter):  # each model's section, as the flags its instance will be started with
        presets = {served: [argv[0], *flag_args({k: v for k, v in preset.items() if k not in PRESET_ONLY})]
                   for served, preset in engine.presets(config).items()}
        return {"kind": engine.kind, "argv": argv, "presets": presets}
    return {"kind": engine.kind, "argv": argv}


def engine_key(engine: EngineBase) -> str | None:
    """The keys it accepts, one a line as `--api-key-file` reads them (the one it is sent first); None: no key."""
    return "\n".join(engine.accepted_keys()) or None


def key_file(name: str, engine: EngineBase, key: str | None) -> SecretFile | None:
    """The API key as the kind takes it: a file its service user reads (with any previous keys, one a
    line), or a root-only environment file."""
    if key is None:
        return None
    if isinstance(engine, NativeEngine) and engine.api_key_via == "file":
        return SecretFile(commands.api_key_file(name), key + "\n", group=engine.user, mode="640")
    return SecretFile(commands.secret_env_file(name), f"{engine.api_key_env}={key}\n")


@deploy("engines")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config, fronts = unit.config, fleet.fact(ENGINE_FRONTS)
    service_users(config)
    for name, engine in config.engines.items():
        key = engine_key(engine)
        files = engine_files(config, name, engine)
        engine_serving(name=f"Engine {name} ({engine.kind})", engine_name=name, files=files,
                       fingerprint=engine_fingerprint(unit, fleet, engine, files, key), health_url=health_url(engine),
                       timeout=engine.health_timeout, secret=key_file(name, engine, key),
                       flags=flags_to_check(config, name, engine), drain=fronts.restart_drain(unit.name, name),
                       reload_url=engine_url(engine, "/models?reload=1") if engine.kind == ROUTER else None,
                       _sudo=True)
    engines_removed(name="Removed engines cleaned up", keep=sorted(config.engines), _sudo=True)
