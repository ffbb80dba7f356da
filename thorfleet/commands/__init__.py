"""The `thorfleet` command: one module per command in this package, each a click command that loads the
inventory with `common.load` and prints with `common.console`; this module only gathers them."""

import sys
from importlib.util import find_spec

import click

from thorfleet.commands import bench, endpoints, hosts, init, plan, render, rollout, status, tune, validate, verify
from thorfleet.commands.common import errors
from thorfleet.core.json_file import UnreadableFile
from thorfleet.core.ssh import Unreachable
from thorfleet.core.types import SecretUnavailable


@click.group()
@click.version_option(package_name="thorfleet")
def main() -> None:
    """Provision NVIDIA Jetson AGX Thor units and serve LLMs on them."""


def cli() -> None:
    """The console script: a secret that cannot be read on this controller (exit 2), a host that
    cannot be reached (exit 1) and a state or results file that is not what it should be (exit 2)
    are one-line errors, wherever a command meets them."""
    try:
        main()
    except (SecretUnavailable, UnreadableFile) as err:
        errors.print(f"error: {err}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except Unreachable as err:
        errors.print(f"error: {err}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)


for command in (validate.validate, hosts.hosts, render.render, verify.verify, endpoints.endpoints_command,
                status.status_command, bench.bench_group, tune.tune_command, plan.plan_command, rollout.rollout_command, init.init):
    main.add_command(command)

if find_spec("gguf"):  # the lab extra is installed
    from thorfleet.commands.lab import lab_group

    main.add_command(lab_group, "lab")
else:
    @main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def lab() -> None:
        """Simulated Thor units on this machine (needs the lab extra)."""
        errors.print("error: the simulated lab is not installed: pip install 'thorfleet[lab]'", highlight=False, markup=False)
        sys.exit(2)
