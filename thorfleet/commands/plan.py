"""`thorfleet plan INVENTORY [--limit HOSTS]`."""

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from thorfleet.commands.common import console, errors, load
from thorfleet.deploy import DEPLOY_FILE
from thorfleet.plan import plan
from thorfleet.rollout.outages import outages

NOTHING, CHANGES, FAILED = 0, 2, 3  # Terraform's `plan -detailed-exitcode`, with 3 for an error


@click.command("plan")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--limit", help="Comma-separated host names of the inventory to plan for (default: all).")
def plan_command(inventory: str, limit: str | None) -> None:
    """What a deploy would change on each unit, changing nothing (pyinfra's change detection, the facts a
    deploy reads). Exit status 0: nothing would change; 2: something would; 3: it could not tell."""
    if not Path(DEPLOY_FILE).is_file():
        errors.print(f"error: no {DEPLOY_FILE} here: run thorfleet plan from the project's folder, as pyinfra", highlight=False)
        sys.exit(FAILED)
    fleet = load(inventory, error_status=FAILED)
    hosts = [h for h in fleet.hosts if not limit or h in limit.split(",")]
    unknown = sorted(set(limit.split(",")) - set(fleet.hosts)) if limit else []
    if unknown or not hosts:
        errors.print(f"error: {inventory} has no host {', '.join(unknown) or limit}", highlight=False, markup=False)
        sys.exit(FAILED)
    plans = plan(fleet, hosts)
    for host, unit in plans.items():
        for dest, diff in unit.diffs.items():
            console.rule(f"{host}: {dest}", style="dim")
            console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default") if sys.stdout.isatty()
                          else escape(diff), highlight=False, end="")
    table = Table(title=f"thorfleet plan {inventory}")
    for column in ("unit", "would change"):
        table.add_column(column)
    for host, unit in plans.items():
        said = f"[red]unknown: {escape(unit.error)}[/]" if unit.error else "\n".join(unit.changes) or "[green]nothing[/]"
        said += "".join(f"\n  file {dest}" for dest in unit.diffs)
        said += "".join(f"\n  restarts {escape(restart)}" for restart in unit.restarts)
        said += "".join(f"\n  will {escape(what)}" for what in unit.will)
        table.add_row(host, said)
    console.print(table)
    changing = [host for host, unit in plans.items() if unit.changed]
    console.print(f"{len(changing)} of {len(plans)} unit(s) would change" + (f": {', '.join(changing)}" if changing else ""),
                  highlight=False)
    for line in outages(fleet, [[host] for host in plans], {host for host, unit in plans.items() if unit.changed}):
        errors.print(f"warning: a rollout of one unit a batch: {line}", style="yellow", highlight=False, markup=False)
    for host, unit in plans.items():
        if unit.error:
            errors.print(f"error: {host}: {unit.error}", highlight=False, markup=False)
    sys.exit(FAILED if any(unit.error for unit in plans.values()) else CHANGES if changing else NOTHING)
