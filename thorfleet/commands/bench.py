"""`thorfleet bench INVENTORY …` and `thorfleet bench compare OLD NEW`."""

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from thorfleet.bench import report
from thorfleet.bench.run import bench_fleet, shapes
from thorfleet.commands.common import Finite, console, errors, load, numbers


class BenchGroup(click.Group):
    """`thorfleet bench INVENTORY` runs a benchmark; `thorfleet bench compare` compares two."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("bench", cls=BenchGroup)
def bench_group() -> None:
    """Serving benchmarks of a fleet's engines (seed 002's shapes), as tables, JSON and plots."""


@bench_group.command("run")
@click.argument("inventory", type=click.Path(dir_okay=False))
@click.option("--limit", help="Comma-separated hosts (default: all).")
@click.option("--engine", "engines", multiple=True, help="Only this engine (repeatable; default: every LLM engine and whisper-server).")
@click.option("--concurrency", default="1,8", show_default=True, help="Concurrency levels, comma-separated.")
@click.option("--input-len", default=2048, show_default=True, type=click.IntRange(1), help="Prompt length in tokens.")
@click.option("--output-len", default=128, show_default=True, type=click.IntRange(2), help="Output length in tokens.")
@click.option("--prompts", type=click.IntRange(1), help="Requests per level (default: 10 at concurrency 1, 100 at 8, as seed 002).")
@click.option("--audio-seconds", default=10.0, show_default=True, type=Finite(1), help="Length of whisper-server's WAV.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the results (default: bench/<time>).")
def run_command(inventory, limit, engines, concurrency, input_len, output_len, prompts, audio_seconds, out) -> None:
    """Benchmark each selected engine of each host, one engine at a time per unit."""
    fleet = load(inventory)
    hosts = [h for h in fleet.hosts if not limit or h in limit.split(",")]
    unknown = sorted(set(limit.split(",")) - set(fleet.hosts)) if limit else []
    if unknown:
        raise click.UsageError(f"{inventory} has no host {', '.join(unknown)}")
    known = {n for h in hosts for n in fleet.hosts[h].config.engines}
    if set(engines) - known:
        raise click.UsageError(f"no selected host has engine {', '.join(sorted(set(engines) - known))}")
    out = out or Path("bench") / datetime.now().strftime("%Y-%m-%d_%H%M%S")
    results = bench_fleet(fleet, hosts, list(engines), shapes(numbers(concurrency), input_len, output_len, prompts),
                          audio_seconds, console)
    written = report.write(results, out)
    _summary(results)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    for record in results["records"]:
        if record.get("figures") is None:
            errors.print(f"error: {record['host']} {record['engine']}: nothing measured: {'; '.join(record['status'])}",
                         highlight=False, markup=False)
    unclean = [r for r in results["records"] if r.get("status")]
    if not results["records"]:
        console.print("[red]nothing was benchmarked: no selected host has an LLM engine or whisper-server[/]")
        sys.exit(1)
    sys.exit(1 if unclean else 0)


def _summary(results: dict) -> None:
    table = Table(title="thorfleet bench")
    for column in ("host", "engine", "shape", "output tok/s | RTF", "mean TTFT ms | latency ms", "failed", "status"):
        table.add_column(column)
    for r in results["records"]:
        f = r.get("figures") or {}
        whisper = report.is_whisper(r) if r.get("shape") else False
        table.add_row(r["host"], r["engine"], f"c={r['shape']['concurrency']}" if r.get("shape") else "-",
                      f"{f['mean_rtf']:.3f}" if whisper else f"{f.get('output_throughput', 0):.1f}" if f else "-",
                      f"{f['mean_latency_ms']:.0f}" if whisper else f"{f.get('mean_ttft_ms', 0):.1f}" if f else "-",
                      str(f.get("failed", "-")), "; ".join(r.get("status") or []) or "[green]ok[/]")
    console.print(table)


@bench_group.command("compare")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option("--tolerance", default=10.0, show_default=True, type=Finite(0), help="Allowed change for the worse, in percent.")
def compare_command(old: Path, new: Path, tolerance: float) -> None:
    """The change of every figure from OLD to NEW (folders or results.json); exit 1 when one got worse by more than the tolerance."""
    rows, unmatched = report.compare(report.load(old), report.load(new), tolerance / 100)
    table = Table(title=f"thorfleet bench compare (tolerance {tolerance:g} %)")
    for column in ("host", "engine", "shape", "figure", "old", "new", "change", ""):
        table.add_column(column, no_wrap=True)
    for host, engine, shape, figure, was, now, change, regressed in rows:
        table.add_row(host, engine, shape, figure, f"{was:.2f}", f"{now:.2f}", f"{change:+.1%}",
                      "[red]regressed[/]" if regressed else "[green]ok[/]")
    console.print(table)
    for line in unmatched:
        console.print(f"[yellow]not compared[/]: {line}", highlight=False)
    if not rows:
        console.print("[red]no engine and shape is in both runs[/]")
        sys.exit(2)
    sys.exit(1 if any(r[-1] for r in rows) else 0)
