"""How long `thorfleet lab up --units 3` takes from a cold cache and from a warm one.

    sudo .venv/bin/python benchmarks/lab_up.py [--units 3] [--skip-cold]

Cold: an empty cache folder (a temporary one, so the project's own cache is kept): Debian
image, sdists, git mirrors, wheelhouse, lab model and images are all made. Warm: the same
cache again after `lab down`, so only the units are made and booted. The lab must be down first.
"""

import os
import subprocess
import sys
import tempfile
import time

import click
from rich.console import Console
from rich.table import Table


def _lab(cache: str, *args: str) -> float:
    env = {**os.environ, "THORFLEET_CACHE": cache}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "from thorfleet.commands import main; main()", "lab", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


@click.command()
@click.option("--units", default=3, show_default=True)
@click.option("--skip-cold", is_flag=True, help="Only the warm case, on the project's own cache.")
def main(units: int, skip_cold: bool) -> None:
    from thorfleet.lab import layout

    if layout.existing_units():
        raise click.ClickException("the lab is up: run `thorfleet lab down` first")
    rows = []
    caches = [str(layout.CACHE)] if skip_cold else []
    with tempfile.TemporaryDirectory(prefix="thorfleet-bench-", dir=layout.CACHE) as cold:
        if not skip_cold:
            caches = [cold]
            rows.append(("cold cache", _lab(cold, "up", "--units", str(units))))
            _lab(cold, "down")
        rows.append(("warm cache", _lab(caches[0], "up", "--units", str(units))))
        rows.append(("up again (nothing to do)", _lab(caches[0], "up", "--units", str(units))))
        rows.append(("down", _lab(caches[0], "down")))
    table = Table(title=f"thorfleet lab up --units {units} ({os.cpu_count()} cores)")
    table.add_column("case")
    table.add_column("seconds", justify="right")
    for case, seconds in rows:
        table.add_row(case, f"{seconds:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
