"""How long the deploy takes on the simulated lab, and how many remote commands it runs.

    sudo .venv/bin/python benchmarks/converge.py            # fresh units, then no-op converges
    sudo .venv/bin/python benchmarks/converge.py --no-op    # the lab as it is (converged): no-op converges only

Without --no-op it takes the lab down and up (fresh units; the caches stay, so sources, models and
the shared ccache are warm) and times the first converge (everything: packages present, power,
Docker, builds through ccache, models, engines). Then, on the converged lab, it times no-op
converges of one unit (`--limit sim-01`) and of the three units, `--repeat` times each, and counts
the commands pyinfra runs on the units over SSH (shell commands and file transfers). Figures are
medians; a no-op converge that changes anything fails the benchmark.

The thorfleet it measures is the one `python` imports, run from the working directory: to measure
another checkout, run this file from that checkout (`cd OTHER && .venv/bin/python PATH/converge.py`).
"""

import argparse
import re
import statistics
import sys
import time

from rich.console import Console
from rich.table import Table

from thorfleet.lab.counting import counted_pyinfra


def converge(*args: str) -> dict:
    """One `pyinfra -y inventory/sim.py deploy.py ARGS`: seconds, remote commands, and its summary."""
    started = time.monotonic()
    run, counted = counted_pyinfra(["-y", "inventory/sim.py", "deploy.py", *args])
    seconds = time.monotonic() - started
    if run.returncode != 0:
        sys.exit(f"the deploy failed:\n{run.stdout[-3000:]}{run.stderr[-2000:]}")
    total = re.search(r"Grand total\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)", run.stdout + run.stderr)
    changed = total.group(2) if total else "?"
    return {"seconds": seconds, "changed": changed, **counted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-op", action="store_true", help="measure only no-op converges of the lab as it is")
    parser.add_argument("--repeat", type=int, default=5, help="no-op converges of each kind (default 5)")
    options = parser.parse_args()
    rows = []
    if not options.no_op:
        from thorfleet.lab import lab

        lab.down(log=lambda text: None)
        started = time.monotonic()
        lab.up(3, log=lambda text: None)
        rows.append(("lab up (warm caches), 3 fresh units", f"{time.monotonic() - started:.1f}", "", "", ""))
        first = converge()
        rows.append(("first converge (fresh units → serving)", f"{first['seconds']:.1f}", str(first.get("commands", "?")),
                     str(first.get("transfers", "?")), f"{first['changed']} changed"))
    for label, args in (("no-op converge, one unit (sim-01)", ("--limit", "sim-01")), ("no-op converge, three units", ())):
        runs = [converge(*args) for _ in range(options.repeat)]
        if any(r["changed"] not in ("-", "0") for r in runs):
            sys.exit(f"{label}: a converge of the converged lab changed something: {[r['changed'] for r in runs]}")
        rows.append((f"{label}, median of {len(runs)}", f"{statistics.median(r['seconds'] for r in runs):.1f}",
                     str(statistics.median(r["commands"] for r in runs)), str(statistics.median(r["transfers"] for r in runs)),
                     "none changed"))
    table = Table(title="thorfleet deploy on the simulated lab")
    for column in ("converge", "seconds", "remote commands", "file transfers", "operations"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
