"""`thorfleet verify INVENTORY [--limit HOSTS]`."""

import sys

import click
from rich.table import Table

from thorfleet.commands.common import console, load
from thorfleet.core.ssh import unreachable
from thorfleet.verify import run_suite


@click.command("verify")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--limit", help="Comma-separated host names of the inventory to verify (default: all).")
def verify(inventory: str, limit: str | None) -> None:
    """Check converged hosts against their configuration (each role's checks, testinfra over SSH)."""
    fleet = load(inventory)
    hosts = [h for h in fleet.hosts if not limit or h in limit.split(",")]
    dead = unreachable(fleet.hosts[h] for h in hosts)  # their checks could only fail, one timeout each
    live = [h for h in hosts if h not in dead]
    status, per_host, failures = run_suite(fleet, ",".join(live), live) if live else (1, {}, [])
    table = Table(title=f"thorfleet verify {inventory}")
    for column in ("host", "passed", "failed", "skipped", "verdict"):
        table.add_column(column)
    for host in hosts:
        counts = per_host.get(host, {})
        verdict = "[red]FAILED[/red]" if counts.get("failed") else "[green]ok[/green]" if counts.get("passed") else "-"
        table.add_row(host, str(counts.get("passed", 0)), str(counts.get("failed", 0)), str(counts.get("skipped", 0)),
                      "[red]UNREACHABLE[/red]" if host in dead else verdict)
    console.print(table)
    for failure in failures:
        console.print(f"  failed: {failure}", highlight=False)
    for why in dead.values():
        console.print(f"  unreachable: {why}", highlight=False, markup=False)
    sys.exit(status or (1 if dead else 0))
