"""`thorfleet status`: the fleet as Prometheus on its monitoring host sees it, as two tables (units,
engines), printed once or refreshed in place (docs/observability.md)."""

from dataclasses import dataclass, field

from rich.table import Table

from thorfleet.core.fleet import ROUTER
from thorfleet.roles.monitoring.targets import engine_metrics

GB = 1e9


@dataclass
class Snapshot:
    units: dict[str, dict] = field(default_factory=dict)  # unit -> {up, mode, clocks, used, total, temp, gpu}
    engines: dict[tuple[str, str], dict] = field(default_factory=dict)  # (unit, engine) -> {up, kind, model, processing, ...}


def _by(prometheus, expr: str, *labels: str) -> dict:
    return {tuple(metric.get(label, "") for label in labels): (metric, value) for metric, value in prometheus.query(expr)}


def snapshot(prometheus, fleet) -> Snapshot:
    """Every unit and engine of the fleet, with what Prometheus knows of it now (None where it knows nothing)."""
    found = Snapshot()
    for name, fleet_host in fleet.hosts.items():
        found.units[name] = {}
        for engine, config in fleet_host.config.engines.items() if fleet_host.applies("engines") else ():
            # A router's models each have a row (`engine/model`): Prometheus scrapes each on its own.
            for served, _ in config.served(engine) if config.kind == ROUTER else [(None, None)]:
                found.engines[(name, f"{engine}/{served}" if served else engine)] = {"kind": config.kind}
    unit_queries = {
        "up": 'up{thorfleet="unit"}',
        "mode": "thorfleet_jetson_power_mode",
        "clocks": "thorfleet_jetson_clocks_locked",
        "used": "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes",
        "total": "node_memory_MemTotal_bytes",
        "temp": "max by (unit) (node_thermal_zone_temp)",
        "gpu": "thorfleet_jetson_gpu_utilization_ratio",
    }
    for key, expr in unit_queries.items():
        for (unit,), (metric, value) in _by(prometheus, expr, "unit").items():
            if unit in found.units:
                found.units[unit][key] = metric.get("mode", value) if key == "mode" else value
    engine_queries = {"up": 'up{thorfleet="engine"}'}
    for metrics in engine_metrics(fleet):
        engine_queries |= {f"processing {metrics.processing}": metrics.processing, f"waiting {metrics.waiting}": metrics.waiting,
                           f"prompt {metrics.prompt_tokens}": f"rate({metrics.prompt_tokens}[1m])",
                           f"generated {metrics.generated_tokens}": f"rate({metrics.generated_tokens}[1m])"}
    for key, expr in engine_queries.items():
        for (unit, engine, model), (_, value) in _by(prometheus, expr, "unit", "engine", "model").items():
            row = found.engines.get((unit, engine)) or found.engines.get((unit, f"{engine}/{model}"))
            if row is not None:
                row[key.split()[0]] = value
    return found


def _shown(value, template: str = "{:.0f}", missing: str = "—") -> str:
    return missing if value is None else template.format(value)


def _state(up, kind: str = "") -> str:
    if kind == ROUTER and up == 0:  # a router answers only for a model it has loaded (or put to sleep)
        return "[dim]not loaded[/]"
    return "[dim]no data[/]" if up is None else ("[green]up[/]" if up == 1 else "[bold red]DOWN[/]")


def tables(found: Snapshot, source: str) -> tuple[Table, Table]:
    units = Table(title=f"Units ({source})", title_justify="left")
    for column in ("unit", "node exporter", "power mode", "clocks", "memory used", "max temp °C", "GPU load"):
        units.add_column(column, justify="left" if column in ("unit", "power mode") else "right")
    for name, unit in found.units.items():
        clocks = {None: "—", 1.0: "locked", 0.0: "[yellow]unlocked[/]"}[unit.get("clocks")]
        memory = "—" if unit.get("used") is None else f"{unit['used'] / GB:.1f} of {unit['total'] / GB:.0f} GB"
        units.add_row(name, _state(unit.get("up")), str(unit.get("mode", "—")), clocks, memory,
                      _shown(unit.get("temp"), "{:.0f}"), _shown(unit.get("gpu"), "{:.0%}"))
    engines = Table(title="Engines (tok/s over the last minute)", title_justify="left")
    for column in ("unit", "engine", "kind", "state", "processing", "waiting", "prompt tok/s", "generated tok/s"):
        engines.add_column(column, justify="left" if column in ("unit", "engine", "kind") else "right")
    for (unit, name), engine in found.engines.items():
        if engine.get("up") is None and "processing" not in engine:
            engines.add_row(unit, name, engine["kind"], "[dim]not scraped[/]", "", "", "", "")
            continue
        engines.add_row(unit, name, engine["kind"], _state(engine.get("up"), engine["kind"]), _shown(engine.get("processing")),
                        _shown(engine.get("waiting")), _shown(engine.get("prompt"), "{:.1f}"), _shown(engine.get("generated"), "{:.1f}"))
    return units, engines
