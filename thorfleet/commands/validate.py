"""`thorfleet validate INVENTORY [--against HOST]`."""

import sys

import click

from thorfleet.commands.common import console, errors, load
from thorfleet.core.ssh import ssh_client
from thorfleet.roles.models.fleet import needed_models
from thorfleet.verify import check_installed_engines


@click.command("validate")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--against", "against", help="Also check each engine's command line against what is installed on this "
              "host (the program's --help, or the --help of the image's entry command), without changing anything.")
def validate(inventory: str, against: str | None) -> None:
    """Check an inventory's group_vars/host_vars for every host; exit 0 when all is valid."""
    fleet = load(inventory)
    if against:
        if against not in fleet.hosts:
            errors.print(f"error: {inventory} has no host {against!r}", style="bold red", highlight=False)
            sys.exit(2)
        ssh_client(fleet.hosts[against]).close()  # a dead host is one line (Unreachable), not testinfra's traceback
        problems = check_installed_engines(fleet.hosts[against])
        for line in problems:
            errors.print(f"error: {against}: {line}", highlight=False, markup=False, soft_wrap=True)
        if problems:
            sys.exit(1)
        console.print(f"[green]ok[/] {against}: its installed engines accept their command lines", highlight=False)
    engines = sum(len(h.config.engines) for h in fleet.hosts.values())
    models = {m for h in fleet.hosts.values() for m in needed_models(h, fleet)}
    console.print(
        f"[green]ok[/] {inventory}: {len(fleet.hosts)} hosts, {engines} engines, {len(models)} models "
        f"(config from {fleet.config_dir})", highlight=False,
    )
