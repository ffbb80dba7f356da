"""`thorfleet endpoints INVENTORY [--json] [--offline]`."""

import sys

import click

from thorfleet.commands.common import console, errors, load
from thorfleet.endpoints import as_json, endpoints, endpoints_table


@click.command("endpoints")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON (for a client's configuration) instead of a table.")
@click.option("--offline", is_flag=True, help="Do not ask the gateways for their units' state.")
def endpoints_command(inventory: str, as_json_output: bool, offline: bool) -> None:
    """Every model the fleet serves: its gateway URL and the units behind it, with their state."""
    fleet = load(inventory, secrets=False)
    if not fleet.with_role("gateway"):
        errors.print(f"error: {inventory} has no host in a `gateway` group (docs/gateway.md)", style="bold red", highlight=False)
        sys.exit(1)
    rows, unasked = endpoints(fleet, live=not offline)
    if as_json_output:
        click.echo(as_json(rows))
    else:
        console.print(endpoints_table(rows))
    for why in unasked:
        errors.print(f"error: the units' state is unknown: {why} (--offline lists the endpoints without asking)",
                     highlight=False, markup=False)
    sys.exit(1 if unasked else 0)
