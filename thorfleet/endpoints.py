"""`thorfleet endpoints INVENTORY [--json]`: every model the fleet serves, the gateway URL clients
use for it, and the units behind it with their state at the gateway."""

import json

from rich.table import Table

from thorfleet.core.fleet import TRANSCRIPTION
from thorfleet.core.ssh import Unreachable
from thorfleet.roles.gateway.routes import routes_at
from thorfleet.roles.gateway.runtime import Gateway


def endpoints(fleet, live: bool = True) -> tuple[list[dict], list[str]]:
    """One row per model and gateway, and why each gateway that could not be asked was not; `live`
    asks each gateway for its servers' state over SSH."""
    rows, unasked = [], []
    for host in fleet.with_role("gateway"):
        gateway = host.config.gateway
        address = host.address if gateway.bind == "0.0.0.0" else gateway.bind
        states, error = {}, ""
        if live:
            try:
                with Gateway(host) as connected:
                    states = {r["server"]: r for r in connected.servers()}
            except Exception as err:  # paramiko raises many kinds for a connection that drops
                error = "unknown: gateway not reachable"
                unasked.append(str(err) if isinstance(err, Unreachable) else f"{host.name}: {type(err).__name__}: {err}")
        for route in routes_at(fleet, host.name):
            units = []
            for backend in route.backends:
                state = states.get(backend.server, {})
                units.append({"unit": backend.unit, "engine": backend.engine, "address": f"{backend.address}:{backend.port}" if backend.address else None,
                              "state": state.get("status") or (error or backend.why or "unknown"), "open": state.get("open"),
                              "served": state.get("served")})
            path = "/inference" if route.serves == TRANSCRIPTION else "/v1"
            rows.append({"model": route.model, "serves": route.serves, "gateway": host.name,
                         "url": f"http://{address}:{gateway.port}{path}", "key": gateway.api_key is not None, "units": units})
    return rows, unasked


def endpoints_table(rows: list[dict]) -> Table:
    table = Table(title="endpoints")
    for column in ("model", "url", "units", "state", "served"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["model"], row["url"] + (" (key)" if row["key"] else ""),
                      "\n".join(f"{u['unit']}/{u['engine']}" for u in row["units"]),
                      "\n".join(str(u["state"]) for u in row["units"]),
                      "\n".join("" if u["served"] is None else str(u["served"]) for u in row["units"]))
    return table


def as_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)
