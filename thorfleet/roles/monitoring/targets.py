"""What Prometheus scrapes, worked out from the whole inventory: one job per engine kind (and per key
it needs), node exporter on every unit, and each gateway's HAProxy exporter (docs/observability.md).

A target listening on loopback is reachable only from its own unit: elsewhere it is listed, with the
reason, and not scraped.
"""

from dataclasses import dataclass, field

from thorfleet.core.reach import address_seen_from, host_port
from thorfleet.core.types import SecretSource
from thorfleet.roles.engines.commands import served_name
from thorfleet.roles.engines.kinds import kind_name

GROUP = "monitoring"  # the inventory group whose hosts run Prometheus; the gateway's hosts when none is declared


@dataclass
class Job:
    name: str  # Prometheus's job label
    what: str  # "engine", "unit" or "gateway": which alert rules and dashboards read it
    metrics_path: str = "/metrics"
    bearer: SecretSource | None = None  # the engine's (or gateway's) API key
    basic: SecretSource | None = None  # node exporter's password
    targets: list[dict] = field(default_factory=list)  # file_sd entries: {"targets": [...], "labels": {...}}

    @property
    def secret(self) -> SecretSource | None:
        return self.bearer or self.basic


@dataclass(frozen=True)
class Unscraped:
    unit: str
    what: str
    why: str


def _job(jobs: dict, name: str, what: str, path: str = "/metrics", bearer=None, basic=None) -> Job:
    """The job for these credentials: a second key source of one kind gets a job of its own."""
    for index in range(1, 100):
        job_name = name if index == 1 else f"{name}-{index}"
        job = jobs.setdefault(job_name, Job(job_name, what, path, bearer, basic))
        if (job.bearer, job.basic) == (bearer, basic):
            return job
    raise ValueError(f"too many key sources for {name}")


def fleet_jobs(hosts: dict, monitor: str) -> tuple[list[Job], list[Unscraped]]:
    """(jobs, targets it cannot reach) for Prometheus on host `monitor`; `hosts` is the fleet's {name: FleetHost}."""
    jobs: dict[str, Job] = {}
    unscraped = []

    def add(job: Job, unit: str, what: str, bind: str, port: int, labels: dict) -> None:
        address = address_seen_from(hosts[unit].data.get("ssh_hostname", unit), bind, unit == monitor)
        if address is None:
            unscraped.append(Unscraped(unit, what, f"listens on {bind} only: bind it to the unit's address (with a key) to scrape it"))
            return
        job.targets.append({"targets": [host_port(address, port)], "labels": {"unit": unit, **labels}})

    for name, fleet_host in hosts.items():
        config = fleet_host.config
        if config.applies("unit_metrics"):
            metrics = config.unit_metrics
            add(_job(jobs, "node", "unit", basic=metrics.password), name, "node exporter", metrics.bind, metrics.port,
                {"clocks_wanted": config.power.clocks if config.applies("power") else "any"})
        for engine_name, engine in config.engines.items() if config.applies("engines") else ():
            if engine.metrics is None:
                continue
            kind = kind_name(type(engine))
            job = _job(jobs, kind, "engine", engine.metrics.path, bearer=engine.api_key)
            add(job, name, f"engine {engine_name}", engine.bind, engine.port,
                {"engine": engine_name, "kind": kind, "model": served_name(engine_name, engine)})
        if config.applies("gateway"):
            gateway = config.gateway
            add(_job(jobs, "gateway", "gateway", bearer=gateway.api_key), name, "gateway", gateway.bind, gateway.metrics_port, {})
    return [job for job in jobs.values() if job.targets], unscraped
