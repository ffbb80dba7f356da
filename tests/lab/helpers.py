import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from thorfleet.commands.lab import ssh_command
from thorfleet.lab.counting import counted_pyinfra
from thorfleet.lab.layout import UnitLayout

ROOT = Path(__file__).resolve().parents[2]


def thorfleet(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """The `thorfleet` command as a user runs it, in a process of its own."""
    return subprocess.run([sys.executable, "-c", "from thorfleet.commands import main; main()", *args],
                          capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)


def ssh(unit: UnitLayout, command: str, **kwargs) -> subprocess.CompletedProcess:
    """A shell command line on a unit, over SSH as the lab's login user."""
    return subprocess.run(ssh_command(unit, (command,)), capture_output=True, text=True, timeout=120, **kwargs)


@dataclass
class Converge:
    """One `pyinfra INVENTORY deploy.py` run: exit status, output, its results table, and what it sent
    to the units (remote shell commands, file transfers)."""

    returncode: int
    output: str
    counts: dict[str, int]

    def rows(self) -> dict[str, tuple[str, str, str, str]]:
        """Operation -> (hosts, success, error, no change), from pyinfra's results table."""
        table = self.output.split("--> Results:", 1)[-1]
        return {m.group(1).strip(): m.groups()[1:] for m in _RESULT_ROW.finditer(table)}

    def changed(self) -> list[str]:
        """Operations that changed something on some host ('-' under Success means none did)."""
        return [op for op, (_, success, _, _) in self.rows().items() if success != "-" and op != "Grand total"]


_RESULT_ROW = re.compile(r"^\s{4}(.+?)\s{2,}(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.M)


def converge(inventory: str | Path = "inventory/sim.py", *args: str, timeout: int = 1800) -> Converge:
    """The deploy as a user runs it, from the project root (`-y`: no confirmation prompt)."""
    result, counts = counted_pyinfra(["-y", str(inventory), "deploy.py", *args], cwd=ROOT, timeout=timeout)
    return Converge(result.returncode, result.stdout + result.stderr, counts)


def project_with(tmp_path: Path, host_vars: dict[str, dict]) -> Path:
    """A copy of the inventory and its YAML where some hosts' host_vars have extra keys (merged into
    what is there, mapping by mapping); returns the copied inventory/sim.py."""
    for folder in ("inventory", "group_vars", "host_vars", "roles"):
        shutil.copytree(ROOT / folder, tmp_path / folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for host, extra in host_vars.items():
        path = tmp_path / "host_vars" / f"{host}.yml"
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
        path.write_text(yaml.safe_dump(_merged(data or {}, extra)))
    return tmp_path / "inventory" / "sim.py"


def _merged(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merged(base.get(key) or {}, value) if isinstance(value, dict) else value
    return merged
