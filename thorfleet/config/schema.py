"""The whole configuration of one host: every role's model, plus the checks across roles."""

import ipaddress
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from roles.base.config import BaseConfig
from roles.builds.config import BuildsConfig
from roles.docker.config import DockerConfig
from roles.engines.config import NATIVE_KINDS, ContainerEngine, Engine, EngineBase, LLMContainer
from roles.engines.flags import RENAMED
from roles.models.config import ModelConfig, ModelStoreConfig
from roles.power.config import PowerConfig
from thorfleet.types import Name, StrictModel

RoleName = Literal["base", "power", "docker", "builds", "models", "engines"]
ROLE_ORDER: list[str] = ["base", "power", "docker", "builds", "models", "engines"]

# Ports a Thor unit already uses for itself.
RESERVED_PORTS = {22: "sshd"}
# Share of the unified memory that container LLM engines on one unit may claim together.
MAX_MEMORY_SHARE = 0.9


class HostConfig(StrictModel):
    """Everything thorfleet applies to one unit."""

    roles: list[RoleName] = Field(
        default_factory=lambda: list(ROLE_ORDER),
        description="Roles applied to the host, always in the order base, power, docker, builds, models, engines.",
    )
    base: BaseConfig = Field(default_factory=BaseConfig, description="Packages, SSH keys, jetson-stats, Wi-Fi.")
    power: PowerConfig = Field(default_factory=PowerConfig, description="nvpmodel mode and jetson_clocks.")
    docker: DockerConfig = Field(default_factory=DockerConfig, description="Docker's nvidia runtime and images.")
    builds: BuildsConfig = Field(default_factory=BuildsConfig, description="llama.cpp and whisper.cpp builds.")
    model_store: ModelStoreConfig = Field(default_factory=ModelStoreConfig, description="Where and how models are stored.")
    models: dict[Name, ModelConfig] = Field(default_factory=dict, description="Models by name; engines refer to these names.")
    engines: dict[Name, Engine] = Field(default_factory=dict, description="Serving instances by name; one systemd unit each.")

    def applies(self, role: str) -> bool:
        return role in self.roles

    def model_of(self, engine: EngineBase) -> ModelConfig | None:
        return self.models.get(engine.model) if engine.model else None

    def needed_models(self) -> dict[str, ModelConfig]:
        """The models this host's engines serve: only these are downloaded here."""
        return {e.model: self.models[e.model] for e in self.engines.values() if e.model in self.models}

    def needed_builds(self) -> list[str]:
        """The builds (builds.<key>) this host's native engines run, in a fixed order."""
        return sorted({NATIVE_KINDS[e.kind] for e in self.engines.values() if e.kind in NATIVE_KINDS})

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Checks that span several keys; each problem is (key path, reason)."""
        found = []
        for name, engine in self.engines.items():
            path = ("engines", name)
            found += [(path + sub, reason) for sub, reason in self._engine_problems(engine)]
        found += self._port_clashes()
        found += self._shared_destinations()
        found += self._memory_claims()
        return found

    def _engine_problems(self, engine: EngineBase):
        needs_model = engine.kind != "ollama"
        if engine.model is None:
            if needs_model:
                yield ("model",), f"{engine.kind} needs a model (a name under models)"
        elif engine.model not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            yield ("model",), f"refers to model {engine.model!r}, which is not defined under models (defined: {known})"
        elif engine.kind in NATIVE_KINDS:
            model = self.models[engine.model]
            if model.source != "url" and not model.file:
                yield ("model",), f"{engine.kind} loads one file: set models.{engine.model}.file (e.g. the .gguf or .bin)"
        if engine.exposed and not engine.api_key and not engine.allow_unauthenticated:
            if engine.supports_api_key:
                yield ("bind",), (f"listens on {engine.bind} without authentication: set api_key (env or file), "
                                  "bind 127.0.0.1, or set allow_unauthenticated: true to expose it anyway")
            else:
                yield ("bind",), (f"{engine.kind} has no authentication and would listen on {engine.bind}: "
                                  "bind 127.0.0.1, or set allow_unauthenticated: true to expose it anyway")
        yield from self._renamed_flags(engine)
        if "engines" in self.roles:
            if engine.kind in NATIVE_KINDS and "builds" not in self.roles:
                yield ("kind",), f"{engine.kind} runs the {NATIVE_KINDS[engine.kind]} build, but the builds role is not in roles"
            if isinstance(engine, ContainerEngine) and "docker" not in self.roles:
                yield ("kind",), f"{engine.kind} runs in a container, but the docker role is not in roles"

    def _renamed_flags(self, engine: EngineBase):
        """Flags the pinned engine version renamed (RENAMED); other refs are checked on the unit."""
        renamed = RENAMED.get(engine.kind, {})
        if not renamed:
            return
        build = getattr(self.builds, NATIVE_KINDS[engine.kind])
        if build.ref != type(build).model_fields["ref"].default:
            return
        for flag, value in engine.args.items():
            if flag in renamed and value not in (False, None):
                replacement, how = renamed[flag]
                yield ("args", flag), (f"the pinned {NATIVE_KINDS[engine.kind].replace('_', '.')} ({build.ref[:12]}) has no "
                                       f"--{flag}: it became --{replacement}; write {how}")

    def _port_clashes(self):
        taken: list[tuple[int, str, str]] = []  # port, address, owner
        for name, engine in self.engines.items():
            for port in engine.ports:
                if port in RESERVED_PORTS:
                    yield ("engines", name, "port"), f"port {port} is used by {RESERVED_PORTS[port]} on every unit"
                for other_port, other_addr, owner in taken:
                    if port == other_port and _overlap(engine.bind, other_addr):
                        yield ("engines", name, "port"), f"port {port} on {engine.bind} is already used by engine {owner!r}"
                taken.append((port, engine.bind, name))

    def _shared_destinations(self):
        seen: dict[str, str] = {}
        for name, model in self.models.items():
            dest = self.model_store.dest(model)
            if dest in seen and self.models[seen[dest]] != model:
                yield ("models", name, "dest"), f"{dest} is also the folder of model {seen[dest]!r}; they would overwrite each other"
            seen.setdefault(dest, name)


    def _memory_claims(self):
        """vLLM and SGLang reserve their share of the unified memory up front; shares on one unit add up."""
        claims = {n: e.gpu_memory_utilization for n, e in self.engines.items()
                  if isinstance(e, LLMContainer) and e.gpu_memory_utilization}
        total = sum(claims.values())
        if len(claims) > 1 and total > MAX_MEMORY_SHARE:
            names = ", ".join(f"{n}={v}" for n, v in claims.items())
            yield ("engines",), (f"gpu_memory_utilization adds up to {total:.2f} of the unified memory ({names}); "
                                 f"keep the sum at or below {MAX_MEMORY_SHARE} so that the engines and the system fit")


def _overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    return ipaddress.ip_address(a).is_unspecified or ipaddress.ip_address(b).is_unspecified


@cache
def all_field_names() -> list[str]:
    """Every key any config model knows, for 'did you mean' hints."""
    names: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        for field_name, field in model.model_fields.items():
            names.add(field_name)
            for sub in _models_in(field.annotation):
                if sub.__name__ not in seen:
                    seen.add(sub.__name__)
                    walk(sub)

    seen: set[str] = set()
    walk(HostConfig)
    return sorted(names)


def _models_in(annotation) -> list[type[BaseModel]]:
    found = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:
        found += _models_in(annotation.__origin__)
    return found
