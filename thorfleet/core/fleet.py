"""The fleet view: the whole inventory, read-only, built once before anything connects.

A role learns about other hosts and other roles only here. Each host is a `FleetHost` (its groups,
validated configuration, connection data and the roles that apply to it); what roles derive from the
whole fleet are *fleet facts*, each under a typed `FactKey` and computed by the role that provides it
(`Role.fleet`), on first use, from the view itself. The keys that several roles share, and the types
of their values, are declared in this module, so that a role reads another's facts without importing
it (docs/architecture.md).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from thorfleet.core.model_shape import ModelFacts
from thorfleet.core.types import SecretSource

T = TypeVar("T")


@dataclass(frozen=True)
class FactKey(Generic[T]):
    """The name of one fleet fact; its type parameter is the type of its value."""

    name: str


@dataclass(frozen=True)
class FleetHost:
    """One inventory host as the fleet sees it."""

    name: str
    groups: tuple[str, ...]
    config: Any  # its validated HostConfig (thorfleet.fleet.schema)
    connection: Mapping[str, Any] = field(default_factory=dict)  # the inventory's ssh_* data
    roles: tuple[str, ...] = ()  # the roles that apply to it, in the deploy's order

    @property
    def address(self) -> str:
        """Where the controller and the other units reach it."""
        return str(self.connection.get("ssh_hostname", self.name))

    def applies(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class FleetProblem:
    """A problem only the whole fleet shows: the host and key path at fault, and why."""

    host: str
    key: tuple[str, ...]  # its key path in that host's configuration
    reason: str


class FleetError(Exception):
    """A fleet fact asked for that no role provides, or facts that need each other."""


class FleetView:
    """Every host of an inventory, and the fleet facts the roles derive from them (computed lazily,
    once each: a fact may read other facts, never itself)."""

    def __init__(self, inventory: Path, config_dir: Path, hosts: Mapping[str, FleetHost],
                 providers: Mapping[str, Callable[["FleetView"], Any]], memory_plan: bool = True) -> None:
        self.inventory, self.config_dir, self.hosts = inventory, config_dir, dict(hosts)
        # Whether a unit whose engines do not fit is a problem (False: `hosts --memory` shows the plan instead).
        self.memory_plan = memory_plan
        self._providers = dict(providers)
        self._facts: dict[str, Any] = {}
        self._computing: list[str] = []

    def fact(self, key: FactKey[T]) -> T:
        if key.name not in self._facts:
            if key.name not in self._providers:
                raise FleetError(f"no role provides the fleet fact {key.name!r}")
            if key.name in self._computing:
                raise FleetError(f"fleet facts that need each other: {' -> '.join(self._computing + [key.name])}")
            self._computing.append(key.name)
            try:
                self._facts[key.name] = self._providers[key.name](self)
            finally:
                self._computing.pop()
        return self._facts[key.name]  # type: ignore[no-any-return]

    def with_role(self, role: str) -> list[FleetHost]:
        """The hosts that apply `role`, in inventory order."""
        return [host for host in self.hosts.values() if host.applies(role)]


# --- Facts several roles share -------------------------------------------------------------------


@dataclass(frozen=True)
class EngineMetrics:
    """Where an engine kind's Prometheus metrics are, and the names of the few that `thorfleet status`,
    the alert rules and the dashboards read, so that each of those knows them from one place."""

    path: str
    processing: str  # gauge: requests being decoded now
    waiting: str  # gauge: requests queued for a slot
    prompt_tokens: str  # counter: prompt tokens processed
    generated_tokens: str  # counter: tokens generated
    # The kind's own panels on the engine dashboard: (title, PromQL with `{engine}` where the engine
    # selector goes), e.g. llama-server's decode speed.
    panels: tuple[tuple[str, str], ...] = ()


# What clients do with an engine (its kind's `serves`): OpenAI-compatible chat, routed on the request's
# model; whisper-server's transcriptions, routed on their path; "" for neither (health only).
CHAT = "chat"
TRANSCRIPTION = "transcription"
# The engine kind that serves several models on one port, loading them on demand (llama-server's router mode).
ROUTER = "llama-router"


@dataclass(frozen=True)
class EngineEndpoint:
    """One engine of one unit, as the rest of the fleet sees it (provided by the engines role)."""

    unit: str
    engine: str
    kind: str
    served_name: str  # the name clients ask for in `model`
    serves: str  # CHAT, TRANSCRIPTION or ""
    bind: str
    port: int
    health_path: str
    api_key: SecretSource | None
    metrics: EngineMetrics | None
    build: str | None = None  # builds.<key> a native engine runs
    image: str | None = None  # the image a container engine runs
    model: str | None = None  # models.<key> it serves
    deployed: bool = True  # whether its host applies the engines role (and so runs it)


ENGINE_ENDPOINTS: FactKey[tuple[EngineEndpoint, ...]] = FactKey("engines.endpoints")


def endpoints_of(fleet: FleetView, unit: str) -> list[EngineEndpoint]:
    return [e for e in fleet.fact(ENGINE_ENDPOINTS) if e.unit == unit]


class RestartDrain(Protocol):
    """Pyinfra function commands around one engine's restart: drained wherever it is routed first,
    put back once healthy; each returns False (and logs why) when it could not."""

    def drain(self, state: Any, host: Any) -> bool: ...

    def ready(self, state: Any, host: Any) -> bool: ...


class Fronts(Protocol):
    """What fronts the engines (provided by the gateway role)."""

    def restart_drain(self, unit: str, engine: str) -> RestartDrain | None:
        """How to take this engine out of rotation for a restart; None when nothing routes to it."""


ENGINE_FRONTS: FactKey[Fronts] = FactKey("gateway.fronts")

BUILD_IDS: FactKey[Mapping[tuple[str, str], str]] = FactKey("builds.ids")  # (unit, builds.<key>) -> build id


MODEL_FACTS: FactKey[Callable[[Any, Any], ModelFacts | None]] = FactKey("models.facts")  # (model entry, model_store)


class ModelCatalogue(Protocol):
    """The models the units serve (provided by the models role)."""

    def fingerprint(self, config: Any, model: str) -> str:
        """What a unit's copy of models.<model> is: its place and its files' sums (asks the hub once)."""


MODEL_CATALOGUE: FactKey[ModelCatalogue] = FactKey("models.catalogue")

# The fleet's pull-through mirrors of Docker Hub (`http://host:port`), for the units' daemon.json.
IMAGE_MIRRORS: FactKey[list[str]] = FactKey("image_mirror.urls")
