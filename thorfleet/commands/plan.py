"""`thorfleet plan INVENTORY [--limit HOSTS]`. pyinfra's change detection takes most of its time, so it
is started first thing, and the rest of thorfleet loads (and reads the units' files) while it runs:
this module imports little at the top for that reason."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from thorfleet.core.pyinfra_cli import DEPLOY_FILE, dry_run

if TYPE_CHECKING:
    import subprocess

    from thorfleet.fleet import Fleet
    from thorfleet.plan import UnitPlan

NOTHING, CHANGES, FAILED = 0, 2, 3  # Terraform's `plan -detailed-exitcode`, with 3 for an error


@click.command("plan")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--limit", help="Comma-separated host names of the inventory to plan for (default: all).")
def plan_command(inventory: str, limit: str | None) -> None:
    """What a deploy would change on each unit, changing nothing (pyinfra's change detection, the facts a
    deploy reads). Exit status 0: nothing would change; 2: something would; 3: it could not tell."""
    started = dry_run(inventory, limit.split(",") if limit else None) if Path(DEPLOY_FILE).is_file() else None
    try:
        fleet, plans = _planned(inventory, limit, started)
    finally:
        if started and started.poll() is None:  # a refused configuration or limit: pyinfra is not waited for
            started.kill()
    _show(inventory, fleet, plans)
    changing = any(unit.changed for unit in plans.values())
    sys.exit(FAILED if any(unit.error for unit in plans.values()) else CHANGES if changing else NOTHING)


def _planned(inventory: str, limit: str | None, started: "subprocess.Popen[str] | None") -> tuple["Fleet", dict[str, "UnitPlan"]]:
    """Each unit's plan once the inventory loads and the limit names its hosts; exit 3 otherwise."""
    from thorfleet.commands.common import errors, load
    from thorfleet.plan import plan

    if started is None:
        errors.print(f"error: no {DEPLOY_FILE} here: run thorfleet plan from the project's folder, as pyinfra", highlight=False)
        sys.exit(FAILED)
    fleet = load(inventory, error_status=FAILED)
    hosts = [h for h in fleet.hosts if not limit or h in limit.split(",")]
    unknown = sorted(set(limit.split(",")) - set(fleet.hosts)) if limit else []
    if unknown or not hosts:
        errors.print(f"error: {inventory} has no host {', '.join(unknown) or limit}", highlight=False, markup=False)
        sys.exit(FAILED)
    return fleet, plan(fleet, hosts, started)


def _show(inventory: str, fleet: "Fleet", plans: dict[str, "UnitPlan"]) -> None:
    """The diffs, then one table row per unit, then the warnings and errors."""
    from rich.markup import escape
    from rich.syntax import Syntax
    from rich.table import Table

    from thorfleet.commands.common import console, errors
    from thorfleet.rollout.outages import cover

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
    covered = cover(fleet, [[host] for host in plans], set(changing))
    for line in covered.covered:
        console.print(f"a rollout of one unit a batch: {line}", highlight=False, markup=False)
    for line in covered.lost:
        errors.print(f"warning: a rollout of one unit a batch: {line}", style="yellow", highlight=False, markup=False)
    for host, unit in plans.items():
        if unit.error:
            errors.print(f"error: {host}: {unit.error}", highlight=False, markup=False)
