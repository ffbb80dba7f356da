import subprocess
import sys

from thorfleet.lab.cli import ssh_command
from thorfleet.lab.layout import UnitLayout


def thorfleet(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """The `thorfleet` command as a user runs it, in a process of its own."""
    return subprocess.run([sys.executable, "-c", "from thorfleet.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)


def ssh(unit: UnitLayout, command: str, **kwargs) -> subprocess.CompletedProcess:
    """A shell command line on a unit, over SSH as the lab's login user."""
    return subprocess.run(ssh_command(unit, (command,)), capture_output=True, text=True, timeout=120, **kwargs)
