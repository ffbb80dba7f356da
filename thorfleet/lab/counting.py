"""pyinfra's own CLI with its SSH connector counting what it sends to the units: remote shell commands
and file transfers. A no-op converge's count is a figure the lab tests hold the deploy to (every fact
read twice, or once per file instead of once per role, shows here first)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

COUNTING_PYINFRA = """
import atexit, json, os, sys
from pyinfra.connectors.ssh import SSHConnector
counts = {"commands": 0, "transfers": 0}
for method, key in (("run_shell_command", "commands"), ("put_file", "transfers"), ("get_file", "transfers")):
    def counted(self, *args, _real=getattr(SSHConnector, method), _key=key, **kwargs):
        counts[_key] += 1
        return _real(self, *args, **kwargs)
    setattr(SSHConnector, method, counted)
atexit.register(lambda: open(os.environ["THORFLEET_COUNTS"], "w").write(json.dumps(counts)))
sys.argv = ["pyinfra", *sys.argv[1:]]
from pyinfra_cli.main import main
main()
"""


def counted_pyinfra(args: list[str], cwd: Path | None = None, timeout: float = 1800) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
    """`pyinfra ARGS` as a user runs it; its result and {"commands": N, "transfers": M} sent to the units."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as counts:
        run = subprocess.run([sys.executable, "-c", COUNTING_PYINFRA, *args], capture_output=True, text=True, cwd=cwd,
                             timeout=timeout, env={**os.environ, "THORFLEET_COUNTS": counts.name})
        return run, json.loads(counts.read() or "{}")
