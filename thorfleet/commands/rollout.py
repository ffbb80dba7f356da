"""`thorfleet rollout INVENTORY [--canary HOST] [--batch N|PCT]... [--max-fail PCT] [--resume] [--undo [--to REV]] ...`."""

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from thorfleet.commands.common import Finite, console, errors, load
from thorfleet.rollout.batches import parse_size, plan
from thorfleet.rollout.outages import cover
from thorfleet.rollout.run import OutageRefused, Rollout
from thorfleet.core.pyinfra_cli import DEPLOY_FILE
from thorfleet.rollout.steps import LiveSteps
from thorfleet.rollout.state import DONE, RolloutState, state_path


def _sizes(ctx, param, values) -> list:
    try:
        return [parse_size(v) for v in values]
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command("rollout")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--limit", help="Comma-separated host names of the inventory to roll out (default: all).")
@click.option("--canary", help="Roll this unit out first, alone; nothing else is touched unless it passes its gate.")
@click.option("--batch", "sizes", multiple=True, callback=_sizes, metavar="N|PCT",
              help="Batch size, repeatable: a number of units or a percentage (rounded down, at least 1); the last repeats "
                   "(Ansible's `serial`). Default: all the remaining units in one batch.")
@click.option("--max-fail", default=0.0, show_default=True, type=Finite(0, 100),
              help="Stop when more than this percentage of a batch fails (a batch that fails whole always stops).")
@click.option("--resume", is_flag=True, help="Carry on the stopped rollout of this inventory (its state file) with the units not done.")
@click.option("--skip-unreachable", is_flag=True, help="Report an unreachable unit as skipped instead of failed.")
@click.option("--every-unit", is_flag=True, help="Drain, deploy and gate every unit, even those whose plan shows nothing to change.")
@click.option("--allow-outage", is_flag=True, help="Go ahead although a model would have no server while a batch is drained "
                                                   "(its only unit, or all its units, in one batch) and no stand-in can "
                                                   "serve it meanwhile (a container engine, or no room in the memory plan).")
@click.option("--no-perf-gate", is_flag=True, help="Skip the canary's performance gate (a short bench before and after its change).")
@click.option("--perf-tolerance", default=10.0, show_default=True, type=Finite(0, 100), metavar="PCT",
              help="The performance gate fails when the canary's output tok/s falls or its mean TTFT rises by more than this "
                   "(and its repeated runs after are worse than those before beyond chance).")
@click.option("--perf-budget", default=60.0, show_default=True, type=Finite(5, 3600), metavar="SECONDS",
              help="About how long the performance gate measures the canary on each side of its change: each run "
                   "sends as many prompts as fit (more prompts, less noise).")
@click.option("--no-rollback", is_flag=True, help="Leave a unit that fails out of the gateway as it is, for inspection, instead "
                                                  "of deploying its previous revision again.")
@click.option("--undo", is_flag=True, help="Undo the last rollout of this inventory: each unit it deployed back to its revision "
                                           "from before it (no rollout on record: each unit back one revision), through the "
                                           "same drain, deploy, gate and enable steps, with the configuration recorded on the unit.")
@click.option("--to", "to", metavar="REV", help="With --undo: this revision (its number, or the start of its name) instead.")
def rollout_command(inventory, limit, canary, sizes, max_fail, resume, skip_unreachable, every_unit, allow_outage, no_perf_gate,
                    perf_tolerance, perf_budget, no_rollback, undo, to) -> None:
    """Deploy the fleet without taking it down: the canary first, then batches; each unit whose plan shows
    a change drained at the gateway, deployed, gated (its verify checks and a request through the
    gateway) and put back; one that fails goes back to its previous revision."""
    if not Path(DEPLOY_FILE).is_file():
        raise click.UsageError(f"no {DEPLOY_FILE} here: run thorfleet rollout from the project's folder, as pyinfra")
    if to and not undo:
        raise click.UsageError("--to goes with --undo")
    fleet = load(inventory)
    path = state_path(fleet.config_dir, fleet.inventory)
    if resume:
        if not path.is_file():
            raise click.UsageError(f"no stopped rollout to resume ({path} does not exist)")
        state = RolloutState.load(path)
        gone = sorted({host for batch in state.batches for host in batch} - set(fleet.hosts))
        if gone:
            raise click.UsageError(f"the stopped rollout ({path}) names {', '.join(gone)}, no longer in {inventory}: "
                                   "remove the file to start a new rollout")
        console.print(f"resuming the rollout in {path}: {sum(u.state == DONE for u in state.units.values())} unit(s) done")
    else:
        hosts = [h for h in fleet.hosts if not limit or h in limit.split(",")]
        unknown = sorted(set(limit.split(",")) - set(fleet.hosts)) if limit else []
        if unknown:
            raise click.UsageError(f"--limit: {', '.join(unknown)} not in {inventory} (hosts: {', '.join(fleet.hosts)})")
        if canary and canary not in hosts:
            raise click.UsageError(f"--canary {canary!r} is not among the hosts rolled out ({', '.join(hosts)})")
        undo_to = undo_targets(path) if undo and not to else {}
        if undo_to:
            hosts = [h for h in hosts if h in undo_to]
            if not hosts or (canary and canary not in hosts):
                raise click.UsageError(f"the last rollout ({path}) changed {', '.join(undo_to)}: --limit and --canary must name "
                                       "some of them")
        state = RolloutState(str(fleet.inventory), plan(hosts, canary, sizes), max_fail,
                             perf_gate=[canary] if canary and not no_perf_gate and not undo else [],
                             perf_tolerance=perf_tolerance / 100, perf_budget_s=perf_budget, undo=(to or "") if undo else None, undo_to=undo_to)
    if not fleet.with_role("gateway"):
        errors.print("warning: the inventory has no gateway: units are deployed in batches without draining", style="yellow")
    console.print("batches: " + " | ".join(", ".join(batch) for batch in state.batches), highlight=False)
    steps = LiveSteps(fleet, path.parent / "rollout-logs")
    log = lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True)  # noqa: E731
    try:
        ok = Rollout(steps, state, path, skip_unreachable, log, every_unit,
                     lambda changing: cover(fleet, state.batches, changing), allow_outage, not no_rollback).run()
    except OutageRefused as err:
        errors.print(str(err), highlight=False)
        sys.exit(1)
    console.print(summary(state))
    if state.stopped:
        errors.print(f"stopped: {state.stopped}; units not reached are untouched. Fix, then `thorfleet rollout {inventory} --resume`.",
                     style="bold red", highlight=False)
    sys.exit(0 if ok else 1)


def undo_targets(path: Path) -> dict[str, str]:
    """The units the last rollout of this inventory deployed, each with its revision from before it; {}
    when there is none to undo (no state file, or the last one was an undo): then each unit goes back one."""
    if not path.is_file():
        return {}
    last = RolloutState.load(path)
    if last.undo is not None:
        return {}
    targets = {host: unit.revision for host, unit in last.units.items() if unit.state == DONE and unit.revision}
    if not targets:
        raise click.UsageError(f"the last rollout ({path}) deployed no unit that had a revision before it: nothing to "
                               "undo (--to REV takes units to a revision of your choice)")
    return targets


def _flags(command_line: str) -> dict:
    """--flag value pairs of a command line (a bare flag: ''), the program left out."""
    words, flags = command_line.split()[1:], {}
    for index, word in enumerate(words):
        if word.startswith("-"):
            following = words[index + 1] if index + 1 < len(words) else ""
            flags[word] = "" if following.startswith("-") else following
    return flags


def _changes(before: dict, after: dict) -> tuple[str, str, str]:
    """(build, model, flags) columns: what changed in the engines' command lines."""
    builds, models, flags = [], [], []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        old_program, new_program = old.get("command_line", "").split()[:1], new.get("command_line", "").split()[:1]
        if old_program != new_program:
            builds.append(f"{name}: {' '.join(old_program) or '-'} → {' '.join(new_program) or '-'}")
        if old.get("model_file") != new.get("model_file"):
            models.append(f"{name}: {old.get('model_file') or '-'} → {new.get('model_file') or '-'}")
        old_flags, new_flags = _flags(old.get("command_line", "")), _flags(new.get("command_line", ""))
        changed = [f"{flag} {old_flags.get(flag, '-')} → {new_flags.get(flag, '-')}".replace("  ", " ")
                   for flag in sorted(set(old_flags) | set(new_flags)) if old_flags.get(flag) != new_flags.get(flag)]
        flags += [f"{name}: {change}" for change in changed]
    return "\n".join(builds) or "same", "\n".join(models) or "same", "\n".join(flags) or "same"


def summary(state: RolloutState) -> Table:
    table = Table(title="undo" if state.undo is not None else "rollout")
    for column in ("unit", "result", "revision", "build", "model", "flags", "gate", "s"):
        table.add_column(column)
    for batch in state.batches:
        for host in batch:
            unit = state.units.get(host)
            if unit is None:
                table.add_row(host, "untouched", "", "", "", "", "", "")
                continue
            style = {"done": "green", "failed": "red", "skipped": "yellow", "unchanged": "dim"}.get(unit.state, "")
            build, model, flags = _changes(unit.before, unit.after) if unit.after else ("", "", "")
            result = f"[{style}]{unit.state}[/]" + (f"\n{escape(unit.rolled_back)}" if unit.rolled_back else "")
            gate = "\n".join(filter(None, [unit.reason or unit.gate, unit.perf and f"performance: {unit.perf}"]))
            table.add_row(host, result, unit.revision or "-", build, model, flags, escape(gate), f"{unit.seconds:.0f}")
    return table
