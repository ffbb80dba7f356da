"""The engines role: one systemd unit per engine instance, restarted only when what it runs changed."""

import hashlib
import ipaddress

from pyinfra.api import deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.operations import systemd

from thorfleet.roles.builds.files import build_id
from thorfleet.roles.docker.operations import images
from thorfleet.roles.engines import commands
from thorfleet.roles.engines.config import ContainerEngine, NativeEngine
from thorfleet.roles.engines.files import engine_files
from thorfleet.roles.engines.operations import engine_running, engines_removed, flags_accepted, service_user
from thorfleet.roles.models.hub import HubError, model_files
from thorfleet.core.install import files_installed
from thorfleet.core.secret_file import secret_file
from thorfleet.core.types import SecretUnavailable


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def health_url(engine) -> str:
    address = ipaddress.ip_address(engine.bind)
    if address.is_unspecified or address.is_loopback:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{engine.port}{engine.health_path}"


def read_key(name: str, engine) -> str:
    try:
        return engine.api_key.read()
    except SecretUnavailable as err:
        raise PyinfraError(f"engines.{name}.api_key: {err}") from None


def model_fingerprint(config, engine) -> str | None:
    model = config.model_of(engine)
    if model is None:
        return None
    try:
        files = model_files(model, config.model_store)
    except HubError as err:
        raise PyinfraError(f"models.{engine.model}: {err}") from None
    return digest(config.model_store.dest(model) + repr(sorted((f.path, f.sha256, f.size) for f in files)))


def engine_fingerprint(config, engine, rendered, key: str | None) -> dict:
    """What the engine runs: a change in any part restarts it (and checks its flags first)."""
    fingerprint = {"model": model_fingerprint(config, engine)}
    if key is not None:
        fingerprint["key"] = digest(key)
    for file in rendered:
        fingerprint["unit" if file.dest.endswith(".service") else "env"] = digest(file.content)
    if isinstance(engine, NativeEngine):
        fingerprint["build"] = build_id(getattr(config.builds, engine.build))
    else:
        fingerprint["image"] = engine.image
    return fingerprint


def service_users(config) -> None:
    native = {e.user: e.groups for e in config.engines.values() if isinstance(e, NativeEngine)}
    for user, groups in sorted(native.items()):
        service_user(name=f"Service user {user}", user=user, groups=sorted(groups), _sudo=True)


def check_flags(name: str, engine, argv: list[str], fingerprint: dict) -> None:
    """The command line against what the installed engine accepts, before anything of the engine changes."""
    if isinstance(engine, NativeEngine):
        flags_accepted(name=f"Engine {name}: flags of {engine.kind}", engine_name=name, kind=engine.kind,
                       argv=argv, fingerprint=fingerprint, _sudo=True)
    else:
        flags_accepted(name=f"Engine {name}: flags of {engine.kind} in {engine.image}", engine_name=name,
                       kind=engine.kind, argv=argv, fingerprint=fingerprint, image=engine.image,
                       entry=list(engine.entry_command), _sudo=True)


@deploy("engines")
def apply(config) -> None:
    service_users(config)
    container_images = sorted({e.image for e in config.engines.values()
                               if isinstance(e, ContainerEngine) and e.image not in config.docker.image_archives})
    if container_images:
        images(name="Engine images", pull=container_images, archives={}, _sudo=True)
    # Every engine's command line is checked before any engine's files change: a rejected flag leaves the unit as it was.
    keys = {name: read_key(name, engine) for name, engine in config.engines.items() if engine.api_key}
    rendered = {name: engine_files(config, name, engine) for name, engine in config.engines.items()}
    fingerprints = {name: engine_fingerprint(config, engine, rendered[name], keys.get(name))
                    for name, engine in config.engines.items()}
    for name, engine in config.engines.items():
        if engine.check_flags:
            check_flags(name, engine, commands.engine_argv(config, name, engine)[-1], fingerprints[name])
    for name, key in keys.items():
        engine = config.engines[name]
        if engine.api_key_via == "file":
            secret_file(name=f"Engine {name}: API key file", path=commands.api_key_file(name), content=key + "\n",
                        group=engine.user, mode="640", _sudo=True)
        else:
            secret_file(name=f"Engine {name}: API key environment", path=commands.secret_env_file(name),
                        content=f"{engine.api_key_env}={key}\n", _sudo=True)
    if rendered:
        installed = files_installed(name="Engine units and environments", files=[f for fs in rendered.values() for f in fs],
                                    _sudo=True)
        systemd.daemon_reload(name="Reload systemd for the engines", _sudo=True, _if=installed.did_change)
    for name, engine in config.engines.items():
        engine_running(name=f"Engine {name} running", engine_name=name, fingerprint=fingerprints[name],
                       health_url=health_url(engine), timeout=engine.health_timeout, _sudo=True)
    engines_removed(name="Removed engines cleaned up", keep=sorted(config.engines), _sudo=True)
