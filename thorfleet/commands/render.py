"""`thorfleet render INVENTORY HOST [--file PATH]`."""

import sys

import click
from rich.syntax import Syntax

from thorfleet.commands.common import console, errors, load
from thorfleet.host_files import host_files


@click.command("render")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.argument("host")
@click.option("--file", "only", metavar="PATH", help="Print only the file with this destination path.")
def render(inventory: str, host: str, only: str | None) -> None:
    """Print every file the deploy would write on HOST, without connecting to it."""
    fleet = load(inventory, secrets=False)
    if host not in fleet.hosts:
        errors.print(f"error: {host!r} is not in {inventory} (hosts: {', '.join(fleet.hosts)})", highlight=False, markup=False)
        sys.exit(2)
    files = host_files(fleet.hosts[host], fleet)
    if only:
        files = [f for f in files if f.dest == only]
        if not files:
            errors.print(f"error: the deploy writes no {only} on {host}", highlight=False, markup=False)
            sys.exit(2)
    plain = not sys.stdout.isatty()
    for rendered in files:
        how = "keys merged into the unit's file, the rest of it kept" if rendered.merged else f"mode {rendered.mode}"
        if plain:
            click.echo(f"==> {rendered.dest} ({how}, role {rendered.role}) <==")
            click.echo(rendered.content, nl=False)
            click.echo()
        else:
            console.rule(f"{rendered.dest}  [dim]({how}, role {rendered.role})[/]")
            lexer = "json" if rendered.dest.endswith(".json") else "ini"
            console.print(Syntax(rendered.content, lexer, theme="ansi_dark", background_color="default"))
