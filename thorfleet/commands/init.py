"""`thorfleet init DIRECTORY [--lab]`."""

from pathlib import Path

import click
from rich.table import Table

from thorfleet.commands.common import console
from thorfleet.init_project import InTheWay, init_project


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lab", is_flag=True, help="Also the simulated lab's inventory/sim.py and its sim files.")
def init(directory: Path, lab: bool) -> None:
    """Make a fleet project of your own in DIRECTORY: inventory, group_vars, host_vars, deploy.py, README.

    Files that exist already are left as they are."""
    try:
        done = init_project(directory, lab)
    except InTheWay as err:
        raise click.UsageError(f"nothing written: {'; '.join(err.args[0])} (move it, or choose another DIRECTORY)") from None
    table = Table(title=f"thorfleet init {directory}")
    table.add_column("file")
    table.add_column("")
    for relative, what in done:
        table.add_row(relative, what)
    console.print(table)
    console.print(f"next: cd {directory} && thorfleet validate inventory/lab.py (see README.md)", highlight=False)
