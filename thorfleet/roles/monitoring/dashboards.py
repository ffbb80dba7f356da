"""Grafana dashboards for the fleet, import-ready JSON: `fleet` and `engine` are made from the metric
names of the engine kinds the fleet runs (core/fleet.py, EngineMetrics), so a new kind needs no change
here; `unit` reads node exporter and the Jetson collector only. The monitoring role writes them into
its folder (docs/observability.md)."""

import json
from collections.abc import Callable, Iterable
from typing import Any

from thorfleet.core.fleet import EngineMetrics

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PER_ENGINE = "{{unit}} {{engine}}"


def _either(metrics: Iterable[EngineMetrics], expr: Callable[[EngineMetrics], str]) -> str:
    """One series per engine whatever its kind: each kind's own expression, joined with `or`."""
    return " or ".join(expr(m) for m in metrics) or "vector(0)"


def _panel(title: str, targets: list[tuple[str, str]], kind: str = "timeseries", unit: str | None = None) -> dict[str, Any]:
    return {
        "type": kind, "title": title, "datasource": DATASOURCE,
        "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []}, "options": {},
    }


def _laid_out(stats: list[dict[str, Any]], graphs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stats in one row of equal widths, then graphs two to a row; ids in order."""
    panels = []
    for index, stat in enumerate(stats):
        width = 24 // len(stats)
        panels.append({**stat, "gridPos": {"x": index * width, "y": 0, "w": width, "h": 4}})
    top = 4 if stats else 0
    for index, graph in enumerate(graphs):
        panels.append({**graph, "gridPos": {"x": 12 * (index % 2), "y": top + 8 * (index // 2), "w": 12, "h": 8}})
    return [{"id": number, **panel} for number, panel in enumerate(panels, 1)]


def _board(name: str, panels: list[dict[str, Any]], variables: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "uid": f"thorfleet-{name}", "title": f"thorfleet: {name}", "tags": ["thorfleet"], "schemaVersion": 39, "version": 1,
        "editable": True, "time": {"from": "now-1h", "to": "now"}, "refresh": "10s", "panels": panels,
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                                *variables]},
        "annotations": {"list": []},
    }


def fleet_board(metrics: list[EngineMetrics]) -> dict[str, Any]:
    generated = _either(metrics, lambda m: f"rate({m.generated_tokens}[1m])")
    return _board("fleet", _laid_out(
        [_panel("Engines up", [('sum(up{thorfleet="engine"})', "up"), ('count(up{thorfleet="engine"})', "engines")], "stat"),
         _panel("Units up", [('sum(up{thorfleet="unit"})', "up"), ('count(up{thorfleet="unit"})', "units")], "stat"),
         _panel("Alerts firing", [('count(ALERTS{alertstate="firing"}) or vector(0)', "firing")], "stat"),
         _panel("Generated tokens/s, fleet", [(f"sum({generated})", "tok/s")], "stat")],
        [_panel("Generated tokens/s per engine", [(generated, PER_ENGINE)], unit="none"),
         _panel("Prompt tokens/s per engine", [(_either(metrics, lambda m: f"rate({m.prompt_tokens}[1m])"), PER_ENGINE)], unit="none"),
         _panel("Requests processing", [(_either(metrics, lambda m: m.processing), PER_ENGINE)]),
         _panel("Requests waiting", [(_either(metrics, lambda m: m.waiting), PER_ENGINE)]),
         _panel("Gateway requests/s per model",
                [('sum by (proxy) (rate(haproxy_backend_http_requests_total{thorfleet="gateway"}[1m]))', "{{proxy}}")], unit="reqps"),
         _panel("Memory used per unit", [("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{unit}}")],
                unit="percentunit")]))


def engine_board(metrics: list[EngineMetrics]) -> dict[str, Any]:
    selected = '{engine=~"$engine"}'
    graphs = [
        _panel("Generated tokens/s", [(_either(metrics, lambda m: f"rate({m.generated_tokens}{selected}[1m])"), PER_ENGINE)]),
        _panel("Prompt tokens/s", [(_either(metrics, lambda m: f"rate({m.prompt_tokens}{selected}[1m])"), PER_ENGINE)]),
        _panel("Requests processing", [(_either(metrics, lambda m: f"{m.processing}{selected}"), PER_ENGINE)]),
        _panel("Requests waiting", [(_either(metrics, lambda m: f"{m.waiting}{selected}"), PER_ENGINE)]),
    ]
    graphs += [_panel(title, [(expr.replace("{engine}", selected), PER_ENGINE)]) for m in metrics for title, expr in m.panels]
    variable = {"name": "engine", "type": "query", "datasource": DATASOURCE, "query": 'label_values(up{thorfleet="engine"}, engine)',
                "refresh": 2, "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}}
    return _board("engine", _laid_out([_panel("Up", [('up{thorfleet="engine",engine=~"$engine"}', PER_ENGINE)], "stat")], graphs),
                  [variable])


def unit_board() -> dict[str, Any]:
    selected = '{unit=~"$unit"}'
    stats = [
        _panel("Power mode", [(f"thorfleet_jetson_power_mode{selected}", "{{unit}} {{mode}}")], "stat"),
        _panel("Clocks locked", [(f"thorfleet_jetson_clocks_locked{selected}", "{{unit}}")], "stat"),
        _panel("GPU load", [(f"thorfleet_jetson_gpu_utilization_ratio{selected}", "{{unit}}")], "stat", unit="percentunit"),
    ]
    graphs = [
        _panel("Memory used of the unit's", [(f"node_memory_MemTotal_bytes{selected} - node_memory_MemAvailable_bytes{selected}",
                                              "{{unit}} used"), (f"node_memory_MemTotal_bytes{selected}", "{{unit}} total")], unit="bytes"),
        _panel("Temperatures", [(f"node_thermal_zone_temp{selected}", "{{unit}} {{type}}"),
                                (f"thorfleet_jetson_gpu_temperature_celsius{selected}", "{{unit}} GPU")], unit="celsius"),
        _panel("GPU frequency", [('thorfleet_jetson_gpu_frequency_hertz{unit=~"$unit",which="cur"}', "{{unit}} {{device}}")], unit="hertz"),
        _panel("CPU busy", [('1 - avg by (unit) (rate(node_cpu_seconds_total{mode="idle",unit=~"$unit"}[1m]))', "{{unit}}")],
               unit="percentunit"),
        _panel("Readings the unit lacks", [(f"thorfleet_jetson_reading_ok{selected} == 0", "{{unit}} {{source}}")], "table"),
    ]
    variable = {"name": "unit", "type": "query", "datasource": DATASOURCE, "query": 'label_values(up{thorfleet="unit"}, unit)',
                "refresh": 2, "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}}
    return _board("unit", _laid_out(stats, graphs), [variable])


def dashboards(metrics: list[EngineMetrics]) -> dict[str, str]:
    """{file name: JSON} of every dashboard, for the engine kinds whose metrics are given."""
    boards = {"fleet": fleet_board(metrics), "engine": engine_board(metrics), "unit": unit_board()}
    return {f"{name}.json": json.dumps(board, indent=1) + "\n" for name, board in boards.items()}
