"""How thorfleet's commands run the project's deploy: `pyinfra INVENTORY deploy.py ARGS`, by this Python.
It imports nothing heavy, so that `thorfleet plan` starts pyinfra before the rest of thorfleet loads."""

import subprocess
import sys
from pathlib import Path

DEPLOY_FILE = "deploy.py"  # the project's deploy, in the directory thorfleet runs from (as pyinfra's own CLI)


def pyinfra_command(inventory: Path | str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pyinfra", str(inventory), DEPLOY_FILE, *args]


def is_dry_run() -> bool:
    """Whether this process is pyinfra's `--dry` run: pyinfra tells deploy code nothing of it, and work done
    on the controller while the deploy is planned (filling the model cache) must not happen for a plan."""
    return "--dry" in sys.argv


def dry_run(inventory: Path | str, hosts: list[str] | None = None) -> "subprocess.Popen[str]":
    """pyinfra's change detection started, `--dry --json [--limit HOST ...]` (all hosts without `hosts`):
    what thorfleet/plan.py reads."""
    limit = [word for host in hosts or [] for word in ("--limit", host)]
    return subprocess.Popen(pyinfra_command(inventory, "--dry", "--json", *limit), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
