"""`thorfleet tune INVENTORY --host HOST --engine NAME [workload options]`."""

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.syntax import Syntax

from thorfleet.commands.common import Finite, console, errors, load, numbers
from thorfleet.tune import report
from thorfleet.tune.apply import NotApplied, apply_patch
from thorfleet.tune.run import tune
from thorfleet.tune.search import TTFT_SLACK, Workload

DEFAULT = Workload()


@click.command("tune")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--host", required=True, help="The unit to tune on.")
@click.option("--engine", "engine_name", required=True, help="The llama-server engine to tune (it keeps serving meanwhile).")
@click.option("--input-len", default=DEFAULT.input_len, show_default=True, type=click.IntRange(1), help="Prompt length in tokens.")
@click.option("--output-len", default=DEFAULT.output_len, show_default=True, type=click.IntRange(2), help="Output length in tokens.")
@click.option("--concurrency", default="8", show_default=True, help="Concurrency levels, comma-separated; the pick is judged at the highest.")
@click.option("--requests", default=DEFAULT.requests, show_default=True, type=click.IntRange(1), help="Requests per level and candidate.")
@click.option("--ttft-ms", type=Finite(1), help="Mean TTFT target at the highest concurrency: the pick is the fastest within it.")
@click.option("--ttft-slack", type=Finite(1), help="Without --ttft-ms: the pick's mean TTFT may be at most this many times the "
                                                   "lowest measured (default: 1.5 for the throughput profile, 1.1 for latency).")
@click.option("--slot-context", type=click.IntRange(256), help="Least context per slot (default: the engine's slot_context).")
@click.option("--slots", default="4,8,16", show_default=True, help="Slot counts to try.")
@click.option("--ubatch", default="512,1024,2048", show_default=True, help="ubatch sizes for the first stage.")
@click.option("--flash", default="on,off", show_default=True, type=click.Choice(["on,off", "on", "off"]), help="Flash attention settings.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the patch and report (default: tune/<host>-<engine>-<time>).")
@click.option("--apply", "apply", is_flag=True, help="Merge the pick into host_vars/<host>.yml (comments and other keys kept); "
                                                     "the next deploy or rollout applies it.")
def tune_command(inventory, host, engine_name, input_len, output_len, concurrency, requests, ttft_ms, ttft_slack, slot_context,
                 slots, ubatch, flash, out, apply) -> None:
    """Find the llama-server flags that serve a workload best on one unit: the most output tok/s within a
    TTFT bound. A llama-bench first stage, then candidates as real servers beside the running engine;
    prints and writes a host_vars patch and a report; changes the project only with --apply, and the
    unit never."""
    fleet = load(inventory)
    if host not in fleet.hosts:
        raise click.UsageError(f"{host!r} is not in {inventory} (hosts: {', '.join(fleet.hosts)})")
    engines = fleet.hosts[host].config.engines
    engine = engines.get(engine_name)
    if engine is None or not engine.bench_program:
        tunable = [n for n, e in engines.items() if e.bench_program]
        raise click.UsageError(f"{engine_name!r} is not a llama-server engine of {host} (tunable: {', '.join(tunable) or 'none'}); "
                               "vLLM and SGLang are not covered by tune")
    workload = Workload(input_len, output_len, tuple(numbers(concurrency)), requests, ttft_ms, ttft_slack or TTFT_SLACK[engine.profile],
                        slot_context or engine.slot_context, tuple(numbers(slots)), tuple(numbers(ubatch)), tuple(flash.split(",")))
    out = out or Path("tune") / f"{host}-{engine_name}-{datetime.now():%Y%m%d-%H%M%S}"
    result = tune(fleet.hosts[host], engine_name, engine, workload, lambda line: console.print(line, highlight=False, markup=False))
    report.write(result, out)
    console.print(f"objective: {report.objective(result)}", highlight=False, soft_wrap=True)
    console.print(f"{result['pick_label'] or 'no candidate served'} after {result['duration_s']:.0f} s; report and patch in {out}",
                  highlight=False, soft_wrap=True)
    if not result["pick"]:
        sys.exit(1)
    console.print(Syntax(report.patch(result), "yaml", theme="ansi_dark", background_color="default"))
    if apply:
        try:
            path, changed = apply_patch(fleet.inventory, fleet.config_dir, host, engine_name, result["pick"])
        except NotApplied as err:
            errors.print(f"error: {err}", highlight=False, markup=False)
            sys.exit(1)
        console.print(f"{'merged into' if changed else 'already in'} {path}: the next deploy or rollout applies it", highlight=False,
                      soft_wrap=True)
