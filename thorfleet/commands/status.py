"""`thorfleet status INVENTORY [--watch]`."""

import sys
import time

import click

from thorfleet.commands.common import Finite, console, errors, load
from thorfleet.core.ssh import Unreachable


@click.command("status")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", default=5.0, show_default=True, type=Finite(min=0.5), help="Seconds between two refreshes with --watch.")
def status_command(inventory: str, watch: bool, interval: float) -> None:
    """The fleet now, from Prometheus on its monitoring host: each unit's power mode, clocks, memory and
    temperature, each engine's state, queue and tokens per second."""
    import paramiko
    from rich.console import Group
    from rich.live import Live

    from thorfleet.roles.monitoring.runtime import PrometheusError, connect
    from thorfleet.status import snapshot, tables

    fleet = load(inventory, secrets=False)
    if not fleet.with_role("monitoring"):
        errors.print(f"error: {inventory} has no monitoring host (a `monitoring` group, or a `gateway` group): "
                     "docs/observability.md", style="bold red", highlight=False)
        sys.exit(1)
    monitor = fleet.with_role("monitoring")[0]
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
    except Unreachable as err:
        errors.print(f"error: {err}", highlight=False, markup=False)
        sys.exit(1)
    except (PrometheusError, OSError, paramiko.SSHException) as err:
        errors.print(f"error: {monitor.name}: {err}", highlight=False, markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
