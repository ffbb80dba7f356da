"""`thorfleet hosts INVENTORY --artifacts`: what each unit holds of the fleet's artifacts (model files,
engine builds, container images) and where each came from, asked of all units over SSH at once."""

import json
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.table import Table

from thorfleet.core.fleet import FleetHost
from thorfleet.core.holdings import listing
from thorfleet.core.ssh import Unreachable, run, ssh_client


def held(host: FleetHost) -> dict[str, Any]:
    """What the unit holds, or {"error": why} when it cannot be asked."""
    command = shlex.join(["sudo", "-n", *listing(host.config.model_store.root, host.config.builds.root)])
    try:
        client = ssh_client(host)
    except Unreachable as err:
        return {"error": str(err)}
    try:
        output = run(client, command)
    finally:
        client.close()
    try:
        found: dict[str, Any] = json.loads(output)
    except ValueError:
        return {"error": f"{host.name}: listing its artifacts failed (python3 and sudo without a password are needed)"}
    return found


def artifacts_table(title: str, hosts: list[FleetHost]) -> tuple[Table, list[str]]:
    """One row per artifact per unit; and the units that could not be asked, each with why."""
    with ThreadPoolExecutor(max_workers=min(32, len(hosts) or 1)) as pool:
        answers = dict(zip((h.name for h in hosts), pool.map(held, hosts)))
    table = Table(title=title)
    for column in ("host", "kind", "artifact", "size", "sha256 / id", "from"):
        table.add_column(column, overflow="fold")
    failed = []
    for name, found in answers.items():
        if "error" in found:
            failed.append(found["error"])
            continue
        for kind in ("models", "builds", "images"):
            for item in found[kind]:
                size = item.get("size") or (f"{item['bytes'] / 1e6:.1f} MB" if item.get("bytes") is not None else "-")
                table.add_row(name, kind[:-1], item["name"], size, item["id"], item.get("from", "-"))
        table.add_section()
    return table, failed
