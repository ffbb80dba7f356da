"""`thorfleet hosts INVENTORY [--memory]`."""

import sys

import click
from rich.table import Table

from thorfleet.commands.common import console, errors, load
from thorfleet.memory_plan import learn_models, plan_table
from thorfleet.roles.models.fleet import needed_models


@click.command("hosts")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--memory", is_flag=True, help="Show each unit's memory plan instead (asks the hub once for each model's "
              "size and GGUF header, remembered in model_store.controller_cache); exit status 1 when a unit cannot fit.")
def hosts(inventory: str, memory: bool) -> None:
    """Show each host with its groups, engines, ports and models."""
    fleet = load(inventory, secrets=False, memory_plan=not memory)
    if memory:
        facts, failures = learn_models(fleet)
        for failure in failures:
            errors.print(f"warning: not in the plan: {failure}", highlight=False, markup=False, soft_wrap=True)
        table, too_big = plan_table(fleet, facts)
        console.print(table)
        if too_big:
            errors.print(f"error: the engines of {', '.join(too_big)} do not fit in their memory", style="bold red")
            sys.exit(1)
        return
    table = Table(title=f"{inventory}")
    for column in ("host", "groups", "engines", "ports", "models"):
        table.add_column(column)
    for host in fleet.hosts.values():
        engines = host.config.engines
        table.add_row(
            host.name,
            ", ".join(host.groups),
            "\n".join(f"{n} ({e.kind})" for n, e in engines.items()) or "-",
            "\n".join(f"{e.bind}:{'/'.join(map(str, e.ports))}" for e in engines.values()) or "-",
            "\n".join(needed_models(host, fleet)) or "-",
        )
    console.print(table)
