"""The engines role: one systemd unit per engine instance, restarted only when what it runs changed."""

import hashlib
import ipaddress

from pyinfra.api import deploy
from pyinfra.api.exceptions import PyinfraError

from thorfleet.roles.builds.files import build_id
from thorfleet.roles.docker.operations import images
from thorfleet.roles.engines import commands
from thorfleet.roles.engines.config import ContainerEngine, NativeEngine
from thorfleet.roles.engines.files import engine_files
from thorfleet.roles.engines.operations import engine_serving, engines_removed, service_user
from thorfleet.roles.models.hub import HubError, model_files
from thorfleet.core.secret_file import SecretFile
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


def flags_to_check(config, name: str, engine) -> dict | None:
    """What the engine op checks before a (re)start: the kind, the command line whose flags count
    (the program's, or the server command's in the image), and for containers the image and entry."""
    if not engine.check_flags:
        return None
    argv = commands.engine_argv(config, name, engine)[-1]
    if isinstance(engine, NativeEngine):
        return {"kind": engine.kind, "argv": argv}
    return {"kind": engine.kind, "argv": argv, "image": engine.image, "entry": list(engine.entry_command)}


def key_file(name: str, engine, key: str | None) -> SecretFile | None:
    """The API key as the kind takes it: a file its service user reads, or a root-only environment file."""
    if key is None:
        return None
    if engine.api_key_via == "file":
        return SecretFile(commands.api_key_file(name), key + "\n", group=engine.user, mode="640")
    return SecretFile(commands.secret_env_file(name), f"{engine.api_key_env}={key}\n")


@deploy("engines")
def apply(config) -> None:
    service_users(config)
    container_images = sorted({e.image for e in config.engines.values()
                               if isinstance(e, ContainerEngine) and e.image not in config.docker.image_archives})
    if container_images:
        images(name="Engine images", pull=container_images, archives={}, _sudo=True)
    for name, engine in config.engines.items():
        key = read_key(name, engine) if engine.api_key else None
        files = engine_files(config, name, engine)
        engine_serving(name=f"Engine {name} ({engine.kind})", engine_name=name, files=files,
                       fingerprint=engine_fingerprint(config, engine, files, key), health_url=health_url(engine),
                       timeout=engine.health_timeout, secret=key_file(name, engine, key),
                       flags=flags_to_check(config, name, engine), gateways=config.behind_gateways(name), _sudo=True)
    engines_removed(name="Removed engines cleaned up", keep=sorted(config.engines), _sudo=True)
