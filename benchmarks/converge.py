"""How long the deploy takes on the simulated lab: from fresh units to serving, and when nothing changes.

    sudo .venv/bin/python benchmarks/converge.py

Takes the lab down and up (fresh units; the caches stay, so sources, models and the shared ccache
are warm), then times `pyinfra -y inventory/sim.py deploy.py` three times: the first converge
(everything: packages present, power, Docker, builds through ccache, models, engines), and two
converges of the converged lab, which must change nothing. Prints the figures as a table.
"""

import re
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

from thorfleet.lab import lab


def converge() -> tuple[float, str]:
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pyinfra", "-y", "inventory/sim.py", "deploy.py"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"the deploy failed:\n{run.stdout[-3000:]}{run.stderr[-2000:]}")
    total = re.search(r"Grand total\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)", run.stdout + run.stderr)
    return time.monotonic() - started, f"{total.group(2)} changed, {total.group(4)} unchanged" if total else "?"


def main() -> None:
    lab.down(log=lambda text: None)
    started = time.monotonic()
    lab.up(3, log=lambda text: None)
    rows = [("lab up (warm caches), 3 fresh units", time.monotonic() - started, "")]
    for label in ("first converge (fresh units → serving)", "second converge", "third converge"):
        seconds, summary = converge()
        rows.append((label, seconds, summary))
    table = Table(title="thorfleet deploy on the simulated lab (3 units)")
    for column in ("step", "seconds", "operations"):
        table.add_column(column)
    for label, seconds, summary in rows:
        table.add_row(label, f"{seconds:.1f}", summary)
    Console().print(table)


if __name__ == "__main__":
    main()
