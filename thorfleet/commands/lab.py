"""`thorfleet lab …`: the simulated Thor lab (docs/lab.md)."""

import os
import shlex
import sys

import click
from rich.console import Console
from rich.table import Table

from thorfleet.lab import faults, lab, layout
from thorfleet.lab.system import LabError, require_root_linux

console = Console()


def _fail(err: LabError) -> None:
    Console(stderr=True).print(f"error: {err}", style="bold red", highlight=False, markup=False, soft_wrap=True)
    sys.exit(1)


def _unit(name: str) -> layout.UnitLayout:
    try:
        found = layout.unit(name)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    if not found.folder.exists():
        raise click.BadParameter(f"{name} is not up (see `thorfleet lab status`)")
    return found


class LabGroup(click.Group):
    """Lab problems end a command with one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LabError as err:
            _fail(err)


@click.group("lab", cls=LabGroup)
def lab_group() -> None:
    """Simulated Thor units on this machine (root and Linux needed)."""


@lab_group.command()
@click.option("--units", "count", default=layout.DEFAULT_UNITS, show_default=True, help="How many units (sim-01 …).")
@click.option("--link", metavar="RATE", help="Hold each unit's link to RATE both ways (tc's words: 100mbit, 1gbit), to compare "
                                               "ways of distributing files on one machine; without it, links are unlimited.")
def up(count: int, link: str | None) -> None:
    """Bring the lab up (idempotent): image, controller services, units answering SSH."""
    brought = lab.up(count, log=lambda text: console.print(f"[dim]lab:[/] {text}", highlight=False), link=link)
    console.print(f"[green]lab up[/]: {', '.join(u.name for u in brought)}; inventory: inventory/sim.py")


@lab_group.command()
def down() -> None:
    """Remove every unit and the lab's network and services (the caches stay)."""
    lab.down(log=lambda text: console.print(f"[dim]lab:[/] {text}", highlight=False))
    console.print("[green]lab down[/]")


@lab_group.command()
def status() -> None:
    """Each unit, its address, and whether systemd, sshd and Docker are up."""
    found = lab.status()
    if not found:
        console.print("the lab is down (`thorfleet lab up` brings it up)")
        return
    table = Table(title="thorfleet lab")
    for column in ("unit", "address", "systemd", "sshd", "docker", "network"):
        table.add_column(column)
    for s in found:
        table.add_row(s.name, s.address, s.systemd, s.sshd, s.docker, s.network)
    console.print(table)


def ssh_command(unit: layout.UnitLayout, command: tuple[str, ...]) -> list[str]:
    args = ["ssh", "-i", str(layout.SSH_KEY), "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={layout.KNOWN_HOSTS}",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
    if not command and sys.stdin.isatty():
        args.append("-t")
    args.append(f"{layout.LOGIN_USER}@{unit.address}")
    if len(command) == 1:
        args += ["--", command[0]]  # one argument is a shell command line, as with ssh itself
    elif command:
        args += ["--", shlex.join(command)]  # quoted, so the unit's shell splits it as it was given
    return args


@lab_group.command(context_settings={"ignore_unknown_options": True})
@click.argument("unit_name", metavar="UNIT")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(unit_name: str, command: tuple[str, ...]) -> None:
    """Log in to UNIT as the lab's user, or run COMMAND there and exit with its status."""
    require_root_linux()
    os.execvp("ssh", ssh_command(_unit(unit_name), command))


@lab_group.group()
def fault() -> None:
    """Faults for reliability tests."""


@fault.command()
@click.argument("unit_name", metavar="UNIT")
def cut(unit_name: str) -> None:
    """Cut UNIT off the network (it keeps running)."""
    faults.cut(_unit(unit_name))


@fault.command()
@click.argument("unit_name", metavar="UNIT")
def restore(unit_name: str) -> None:
    """Put UNIT back on the network."""
    faults.restore(_unit(unit_name))


@fault.command()
@click.argument("unit_name", metavar="UNIT")
@click.option("--no-wait", is_flag=True, help="Return at once instead of waiting for the unit to be back.")
def reboot(unit_name: str, no_wait: bool) -> None:
    """Reboot UNIT and wait until it is back."""
    faults.reboot(_unit(unit_name), wait=not no_wait)


@fault.command()
@click.argument("unit_name", metavar="UNIT")
@click.argument("process")
@click.option("--signal", default="KILL", show_default=True)
def kill(unit_name: str, process: str, signal: str) -> None:
    """Send a signal to every process named PROCESS on UNIT."""
    count = faults.kill(_unit(unit_name), process, signal)
    console.print(f"{process}: signalled {count} process(es)")


@fault.command("fill-disk")
@click.argument("unit_name", metavar="UNIT")
def fill_disk(unit_name: str) -> None:
    """Fill UNIT's disk to the last block."""
    console.print(f"took {faults.fill_disk(_unit(unit_name)) / 2**30:.1f} GiB")


@fault.command("free-disk")
@click.argument("unit_name", metavar="UNIT")
def free_disk(unit_name: str) -> None:
    """Undo fill-disk."""
    faults.free_disk(_unit(unit_name))
