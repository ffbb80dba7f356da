"""What every command shares: where it prints (standard output, 160 columns wide when it is a log or a
pipe, so that tables are whole; standard error), loading an inventory, and option parsing helpers."""

import math
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from thorfleet.fleet import ConfigError, Fleet, load_fleet
from thorfleet.roles.engines.memory import NOT_PLANNED

console = Console()
if not console.is_terminal:
    console = Console(width=160)
errors = Console(stderr=True, soft_wrap=True)  # an error is one line, however long


def load(inventory: str, secrets: bool = True, memory_plan: bool = True, error_status: int = 2) -> Fleet:
    """Load an inventory; configuration problems end the command with `error_status`, no traceback."""
    try:
        fleet = load_fleet(Path(inventory), secrets, memory_plan)
    except ConfigError as err:
        errors.print("error:", style="bold red", end=" ")
        errors.print(f"{inventory}: {err.format()}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(error_status)
    for warning in fleet.warnings:
        if not memory_plan and NOT_PLANNED in warning.reason:
            continue  # `hosts --memory` is about to ask
        errors.print("warning:", style="bold yellow", end=" ")
        errors.print(str(warning), highlight=False, markup=False, soft_wrap=True)
    return fleet


class Finite(click.FloatRange):
    """A number in a range, and a finite one: click's FloatRange lets `nan` through (every comparison
    with it is false) and `inf` where the range is open."""

    name = "finite number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def numbers(text: str) -> list[int]:
    """A comma-separated list of positive numbers (--concurrency 1,8)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers")
    if not values or min(values) < 1:
        raise click.BadParameter(f"{text!r}: give positive numbers")
    return values
