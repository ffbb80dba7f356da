"""Capture `--help` of the pinned engine builds from a lab unit, as test data for roles/engines/flags.py.

    sudo .venv/bin/python tests/data/help/refresh.py      # after `thorfleet lab up` and a deploy of sim-01

Run it when builds.*.ref moves: each file starts with the program and the commit it came from.
"""

import subprocess
import sys
from pathlib import Path

from thorfleet.lab import layout
from thorfleet.commands.lab import ssh_command

HERE = Path(__file__).resolve().parent
PROGRAMS = {"llama-server": "llama.cpp", "whisper-server": "whisper.cpp"}


def main() -> int:
    unit = layout.unit("sim-01")
    for program, engine in PROGRAMS.items():
        current = f"/opt/thorfleet/builds/{engine}/current"
        run = subprocess.run(ssh_command(unit, (f"cat {current}/commit; {current}/bin/{program} --help 2>&1",)),
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{program}: {run.stderr.strip() or run.stdout.strip()}", file=sys.stderr)
            return 1
        commit, _, text = run.stdout.partition("\n")
        (HERE / f"{program}.txt").write_text(f"# {program} --help at {engine} {commit.strip()}\n{text}")
        print(f"{program}: {len(text.splitlines())} lines from {engine} {commit.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
