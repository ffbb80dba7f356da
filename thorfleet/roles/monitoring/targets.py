"""What Prometheus scrapes, worked out from the whole inventory: one job per engine kind (and per key
it needs), node exporter on every unit, and each gateway's HAProxy exporter (docs/observability.md).

A target listening on loopback is reachable only from its own unit: elsewhere it is listed, with the
reason, and not scraped.
"""

from dataclasses import dataclass, field
from typing import Any

from thorfleet.core.fleet import ENGINE_ENDPOINTS, ROUTER, EngineEndpoint, EngineMetrics, FactKey, FleetView
from thorfleet.core.reach import address_seen_from, host_port
from thorfleet.core.types import SecretSource

ROLE = GROUP = "monitoring"  # the role, and the inventory group whose hosts run Prometheus
DEFAULT_GROUP = "gateway"  # where it runs when the inventory declares no monitoring group


@dataclass
class Job:
    name: str  # Prometheus's job label
    what: str  # "engine", "unit" or "gateway": which alert rules and dashboards read it
    metrics_path: str = "/metrics"
    bearer: SecretSource | None = None  # the engine's (or gateway's) API key
    basic: SecretSource | None = None  # node exporter's password
    targets: list[dict[str, Any]] = field(default_factory=list)  # file_sd entries: {"targets": [...], "labels": {...}}

    @property
    def secret(self) -> SecretSource | None:
        return self.bearer or self.basic


@dataclass(frozen=True)
class Unscraped:
    unit: str
    what: str
    why: str


def _job(jobs: dict[str, Job], name: str, what: str, path: str = "/metrics", bearer: SecretSource | None = None,
         basic: SecretSource | None = None) -> Job:
    """The job for these credentials: a second key source of one kind gets a job of its own."""
    for index in range(1, 100):
        job_name = name if index == 1 else f"{name}-{index}"
        job = jobs.setdefault(job_name, Job(job_name, what, path, bearer, basic))
        if (job.bearer, job.basic) == (bearer, basic):
            return job
    raise ValueError(f"too many key sources for {name}")


def jobs_for(fleet: FleetView, monitor: str) -> tuple[list[Job], list[Unscraped]]:
    """(jobs, targets it cannot reach) for Prometheus on host `monitor`."""
    jobs: dict[str, Job] = {}
    unscraped = []

    def add(job: Job, unit: str, what: str, bind: str, port: int, labels: dict[str, Any]) -> None:
        address = address_seen_from(fleet.hosts[unit].address, bind, unit == monitor)
        if address is None:
            unscraped.append(Unscraped(unit, what, f"listens on {bind} only: bind it to the unit's address (with a key) to scrape it"))
            return
        job.targets.append({"targets": [host_port(address, port)], "labels": {"unit": unit, **labels}})

    engines = fleet.fact(ENGINE_ENDPOINTS)
    for host in fleet.hosts.values():
        config = host.config
        if host.applies("unit_metrics"):
            metrics = config.unit_metrics
            add(_job(jobs, "node", "unit", basic=metrics.password), host.name, "node exporter", metrics.bind, metrics.port,
                {"clocks_wanted": config.power.clocks if host.applies("power") else "any"})
        for engine in (e for e in engines if e.unit == host.name):
            if engine.metrics is None or not engine.deployed:
                continue
            job = _job(jobs, engine.kind, "engine", engine.metrics.path, bearer=engine.api_key)
            add(job, host.name, f"engine {engine.engine}", engine.bind, engine.port,
                {"engine": engine.engine, "kind": engine.kind, "model": engine.served_name} | _router_params(engine))
        if host.applies("gateway"):
            gateway = config.gateway
            add(_job(jobs, "gateway", "gateway", bearer=gateway.api_key), host.name, "gateway", gateway.bind, gateway.metrics_port, {})
    return [job for job in jobs.values() if job.targets], unscraped


def _router_params(engine: EngineEndpoint) -> dict[str, str]:
    """A router answers /metrics per model (`?model=`), never loading one for it (`autoload=false`): an
    unloaded model's target is down, so the EngineDown alert leaves routers to the gateway's health checks."""
    return {"__param_model": engine.served_name, "__param_autoload": "false"} if engine.kind == ROUTER else {}


SCRAPES: FactKey[dict[str, tuple[list[Job], list[Unscraped]]]] = FactKey("monitoring.scrapes")


def fleet_scrapes(fleet: FleetView) -> dict[str, tuple[list[Job], list[Unscraped]]]:
    """Each monitoring host's jobs and what it cannot reach (the SCRAPES fact)."""
    return {host.name: jobs_for(fleet, host.name) for host in fleet.with_role(ROLE)}


def scrape_jobs(fleet: FleetView, monitor: str) -> list[Job]:
    return fleet.fact(SCRAPES)[monitor][0]


def unscraped(fleet: FleetView, monitor: str) -> list[Unscraped]:
    return fleet.fact(SCRAPES)[monitor][1]


def engine_metrics(fleet: FleetView) -> list[EngineMetrics]:
    """The metric names of each kind the fleet runs, once (the alert rules)."""
    return list(dict.fromkeys(e.metrics for e in fleet.fact(ENGINE_ENDPOINTS) if e.metrics))
