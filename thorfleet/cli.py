"""The `thorfleet` command: validate, list and render a fleet's configuration; verify its hosts."""

import sys
import time
from importlib.util import find_spec
from pathlib import Path

import click
from rich.syntax import Syntax
from rich.table import Table

from thorfleet.bench.cli import bench_group
from thorfleet.tune.cli import tune_command
from thorfleet.rollout.cli import rollout_command
from thorfleet.endpoints import as_json, endpoints, endpoints_table
from thorfleet.config import ConfigError
from thorfleet.host_files import host_files
from thorfleet.init_project import init_project
from thorfleet.inventory import Fleet, load_fleet
from thorfleet.memory_plan import learn_models, plan_table
from thorfleet.roles.engines.memory import NOT_PLANNED
from thorfleet.verify import check_installed_engines, run_suite
from thorfleet.terminal import console, errors



def _fleet(inventory: str, secrets: bool = True, memory_plan: bool = True) -> Fleet:
    """Load an inventory; configuration problems end the command with exit status 2, no traceback."""
    try:
        fleet = load_fleet(Path(inventory), secrets, memory_plan)
    except ConfigError as err:
        errors.print("error:", style="bold red", end=" ")
        errors.print(f"{inventory}: {err.format()}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    for warning in fleet.warnings:
        if not memory_plan and NOT_PLANNED in warning.reason:
            continue  # `hosts --memory` is about to ask
        errors.print("warning:", style="bold yellow", end=" ")
        errors.print(str(warning), highlight=False, markup=False, soft_wrap=True)
    return fleet


@click.group()
@click.version_option(package_name="thorfleet")
def main() -> None:
    """Provision NVIDIA Jetson AGX Thor units and serve LLMs on them."""


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--against", "against", help="Also check each engine's command line against what is installed on this "
              "host (the program's --help, or the --help of the image's entry command), without changing anything.")
def validate(inventory: str, against: str | None) -> None:
    """Check an inventory's group_vars/host_vars for every host; exit 0 when all is valid."""
    fleet = _fleet(inventory)
    if against:
        if against not in fleet.hosts:
            errors.print(f"error: {inventory} has no host {against!r}", style="bold red", highlight=False)
            sys.exit(2)
        problems = check_installed_engines(fleet.hosts[against])
        for line in problems:
            errors.print(f"error: {against}: {line}", highlight=False, markup=False, soft_wrap=True)
        if problems:
            sys.exit(1)
        console.print(f"[green]ok[/] {against}: its installed engines accept their command lines", highlight=False)
    engines = sum(len(h.config.engines) for h in fleet.hosts.values())
    models = {m for h in fleet.hosts.values() for m in h.config.needed_models()}
    console.print(
        f"[green]ok[/] {inventory}: {len(fleet.hosts)} hosts, {engines} engines, {len(models)} models "
        f"(config from {fleet.config_dir})", highlight=False,
    )


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--memory", is_flag=True, help="Show each unit's memory plan instead (asks the hub once for each model's "
              "size and GGUF header, remembered in model_store.controller_cache); exit status 1 when a unit cannot fit.")
def hosts(inventory: str, memory: bool) -> None:
    """Show each host with its groups, engines, ports and models."""
    fleet = _fleet(inventory, secrets=False, memory_plan=not memory)
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
            "\n".join(host.config.needed_models()) or "-",
        )
    console.print(table)


@main.command("endpoints")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON (for a client's configuration) instead of a table.")
@click.option("--offline", is_flag=True, help="Do not ask the gateways for their units' state.")
def endpoints_command(inventory: str, as_json_output: bool, offline: bool) -> None:
    """Every model the fleet serves: its gateway URL and the units behind it, with their state."""
    fleet = _fleet(inventory, secrets=False)
    if not fleet.gateways():
        errors.print(f"error: {inventory} has no host in a `gateway` group (docs/gateway.md)", style="bold red", highlight=False)
        sys.exit(1)
    rows = endpoints(fleet, live=not offline)
    if as_json_output:
        click.echo(as_json(rows))
    else:
        console.print(endpoints_table(rows))


@main.command("status")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between two refreshes with --watch.")
def status_command(inventory: str, watch: bool, interval: float) -> None:
    """The fleet now, from Prometheus on its monitoring host: each unit's power mode, clocks, memory and
    temperature, each engine's state, queue and tokens per second."""
    import paramiko
    from rich.console import Group
    from rich.live import Live

    from thorfleet.roles.monitoring.runtime import PrometheusError, connect
    from thorfleet.status import snapshot, tables

    fleet = _fleet(inventory, secrets=False)
    if not fleet.monitors():
        errors.print(f"error: {inventory} has no monitoring host (a `monitoring` group, or a `gateway` group): "
                     "docs/observability.md", style="bold red", highlight=False)
        sys.exit(1)
    monitor = fleet.monitors()[0]
    try:
        with connect(monitor) as prometheus:
            view = lambda: Group(*tables(snapshot(prometheus, fleet), f"Prometheus on {monitor.name}"))  # noqa: E731
            if not watch:
                console.print(view())
                return
            with Live(view(), console=console, screen=False, auto_refresh=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(view(), refresh=True)
    except (PrometheusError, OSError, paramiko.SSHException) as err:
        errors.print(f"error: {monitor.name}: {err}", highlight=False, markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.argument("host")
@click.option("--file", "only", metavar="PATH", help="Print only the file with this destination path.")
def render(inventory: str, host: str, only: str | None) -> None:
    """Print every file the deploy would write on HOST, without connecting to it."""
    fleet = _fleet(inventory, secrets=False)
    if host not in fleet.hosts:
        errors.print(f"error: {host!r} is not in {inventory} (hosts: {', '.join(fleet.hosts)})", highlight=False, markup=False)
        sys.exit(2)
    files = host_files(fleet.hosts[host].config)
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


main.add_command(bench_group, "bench")
main.add_command(tune_command, "tune")
main.add_command(rollout_command, "rollout")

if find_spec("gguf"):  # the lab extra is installed
    from thorfleet.lab.cli import lab_group

    main.add_command(lab_group, "lab")
else:
    @main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def lab() -> None:
        """Simulated Thor units on this machine (needs the lab extra)."""
        errors.print("error: the simulated lab is not installed: pip install 'thorfleet[lab]'", highlight=False, markup=False)
        sys.exit(2)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lab", is_flag=True, help="Also the simulated lab's inventory/sim.py and its sim files.")
def init(directory: Path, lab: bool) -> None:
    """Make a fleet project of your own in DIRECTORY: inventory, group_vars, host_vars, deploy.py, README.

    Files that exist already are left as they are."""
    table = Table(title=f"thorfleet init {directory}")
    table.add_column("file")
    table.add_column("")
    for relative, what in init_project(directory, lab):
        table.add_row(relative, what)
    console.print(table)
    console.print(f"next: cd {directory} && thorfleet validate inventory/lab.py (see README.md)", highlight=False)


@main.command()
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--limit", help="Comma-separated host names of the inventory to verify (default: all).")
def verify(inventory: str, limit: str | None) -> None:
    """Check converged hosts against their configuration (each role's checks, testinfra over SSH)."""
    fleet = _fleet(inventory)
    hosts = [h for h in fleet.hosts if not limit or h in limit.split(",")]
    status, per_host, failures = run_suite(inventory, limit, hosts)
    table = Table(title=f"thorfleet verify {inventory}")
    for column in ("host", "passed", "failed", "skipped", "verdict"):
        table.add_column(column)
    for host in hosts:
        counts = per_host.get(host, {})
        verdict = "[red]FAILED[/red]" if counts.get("failed") else "[green]ok[/green]" if counts.get("passed") else "-"
        table.add_row(host, str(counts.get("passed", 0)), str(counts.get("failed", 0)), str(counts.get("skipped", 0)), verdict)
    console.print(table)
    for failure in failures:
        console.print(f"  failed: {failure}", highlight=False)
    sys.exit(status)
