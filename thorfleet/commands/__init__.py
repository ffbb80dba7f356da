"""The `thorfleet` command: one module per command in this package, each a click command that loads the
inventory with `common.load` and prints with `common.console`; this module only gathers them, and
imports a command's module only when that command runs (click's lazily loaded subcommands), so that
a command starts without the others' imports (`thorfleet plan` starts pyinfra first thing)."""

import importlib
import sys
from importlib.util import find_spec

import click

# name -> "module:attribute" of its click command, in this package
COMMANDS = {
    "validate": "validate:validate", "hosts": "hosts:hosts", "render": "render:render", "verify": "verify:verify",
    "endpoints": "endpoints:endpoints_command", "status": "status:status_command", "bench": "bench:bench_group",
    "tune": "tune:tune_command", "plan": "plan:plan_command", "rollout": "rollout:rollout_command", "init": "init:init",
}
if find_spec("gguf"):  # the lab extra is installed
    COMMANDS["lab"] = "lab:lab_group"


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="thorfleet")
def main() -> None:
    """Provision NVIDIA Jetson AGX Thor units and serve LLMs on them."""


def cli() -> None:
    """The console script: a secret that cannot be read on this controller (exit 2), a host that
    cannot be reached (exit 1) and a state or results file that is not what it should be (exit 2)
    are one-line errors, wherever a command meets them."""
    try:
        main()
    except Exception as err:
        from thorfleet.commands.common import errors
        from thorfleet.core.json_file import UnreadableFile
        from thorfleet.core.ssh import Unreachable
        from thorfleet.core.types import SecretUnavailable

        if not isinstance(err, (SecretUnavailable, UnreadableFile, Unreachable)):
            raise
        errors.print(f"error: {err}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1 if isinstance(err, Unreachable) else 2)


if "lab" not in COMMANDS:
    @main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def lab() -> None:
        """Simulated Thor units on this machine (needs the lab extra)."""
        from thorfleet.commands.common import errors

        errors.print("error: the simulated lab is not installed: pip install 'thorfleet[lab]'", highlight=False, markup=False)
        sys.exit(2)
