"""`thorfleet hosts INVENTORY [--memory | --listeners | --artifacts]`."""

import sys

import click
from rich.table import Table

from thorfleet.artifacts import artifacts_table
from thorfleet.commands.common import console, errors, load
from thorfleet.fleet.listeners import unit_listeners
from thorfleet.memory_plan import learn_models, plan_table
from thorfleet.roles.models.fleet import needed_models


@click.command("hosts")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--memory", is_flag=True, help="Show each unit's memory plan instead (asks the hub once for each model's "
              "size and GGUF header, remembered in model_store.controller_cache); exit status 1 when a unit cannot fit.")
@click.option("--listeners", is_flag=True, help="Show every address and port each unit listens on, and the key that sets it.")
@click.option("--artifacts", is_flag=True, help="Ask each unit (over SSH, all at once) which model files, engine builds and "
              "images it holds, and where each came from; exit status 1 when a unit cannot be asked.")
def hosts(inventory: str, memory: bool, listeners: bool, artifacts: bool) -> None:
    """Show each host with its groups, engines, ports and models."""
    fleet = load(inventory, secrets=False, memory_plan=not memory)
    if artifacts:
        table, failed = artifacts_table(f"{inventory}: what each unit holds", list(fleet.hosts.values()))
        console.print(table)
        for why in failed:
            errors.print(f"error: {why}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1 if failed else 0)
    if listeners:
        table = Table(title=f"{inventory}: what listens on each unit")
        for column in ("host", "address:port", "what", "set by"):
            table.add_column(column)
        for host in fleet.hosts.values():
            for listener in unit_listeners(host, fleet.roles):
                table.add_row(host.name, f"{listener.bind}:{listener.port}", listener.what, ".".join(listener.key) or "-")
            table.add_section()
        console.print(table)
        return
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
