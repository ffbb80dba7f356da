"""`thorfleet endpoints INVENTORY [--json]`: every model the fleet serves, the gateway URL clients
use for it, and the units behind it with their state at the gateway."""

import json

from rich.table import Table

from thorfleet.core.fleet import ENGINE_ENDPOINTS, ROUTER, TRANSCRIPTION
from thorfleet.core.ssh import Unreachable, forward, ssh_client
from thorfleet.roles.engines import router_api
from thorfleet.roles.engines.deploy import local_address
from thorfleet.roles.gateway.routes import routes_at
from thorfleet.roles.gateway.runtime import Gateway


def endpoints(fleet, live: bool = True) -> tuple[list[dict], list[str]]:
    """One row per model and gateway, and why each gateway that could not be asked was not; `live`
    asks each gateway for its servers' state over SSH."""
    rows, unasked = [], []
    models = router_models(fleet, unasked) if live else {}
    for host in fleet.with_role("gateway"):
        gateway = host.config.gateway
        address = host.address if gateway.bind == "0.0.0.0" else gateway.bind
        states, error = {}, ""
        if live:
            try:
                with Gateway(host) as connected:
                    states = {(r["backend"], r["server"]): r for r in connected.servers()}
            except Exception as err:  # paramiko raises many kinds for a connection that drops
                error = "unknown: gateway not reachable"
                unasked.append(str(err) if isinstance(err, Unreachable) else f"{host.name}: {type(err).__name__}: {err}")
        for route in routes_at(fleet, host.name):
            units = []
            for backend in route.backends:
                state = states.get((route.backend, backend.server), {})
                loaded = models.get((backend.unit, backend.engine, route.model))
                units.append({"unit": backend.unit, "engine": backend.engine, "address": f"{backend.address}:{backend.port}" if backend.address else None,
                              "state": (state.get("status") or (error or backend.why or "unknown")) + (f", {loaded}" if loaded else ""),
                              "open": state.get("open"), "served": state.get("served"), "model_state": loaded})
            path = "/inference" if route.serves == TRANSCRIPTION else "/v1"
            rows.append({"model": route.model, "serves": route.serves, "gateway": host.name,
                         "url": f"http://{address}:{gateway.port}{path}", "key": gateway.api_key is not None, "units": units})
    return rows, unasked


def router_models(fleet, unasked: list[str]) -> dict[tuple[str, str, str], str]:
    """(unit, router, model) -> the model's state as its router says (loaded, loading, sleeping, unloaded),
    asked on the unit through SSH, so that the router's key never leaves the controller's memory."""
    found = {}
    for endpoint in {(e.unit, e.engine) for e in fleet.fact(ENGINE_ENDPOINTS) if e.kind == ROUTER and e.deployed}:
        host = fleet.hosts[endpoint[0]]
        engine = host.config.engines[endpoint[1]]
        try:
            client = ssh_client(host)
            try:
                with forward(client, local_address(engine), engine.port) as port:
                    said = router_api.states(f"http://127.0.0.1:{port}", engine.api_key.read() if engine.api_key else None)
            finally:
                client.close()
        except Exception as err:  # paramiko's many kinds, a router that does not answer: the row says unknown
            unasked.append(f"{host.name}/{endpoint[1]}: its models' state: {type(err).__name__}: {err}")
            continue
        found |= {(endpoint[0], endpoint[1], model): state for model, state in said.items()}
    return found


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
