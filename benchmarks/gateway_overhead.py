"""The gateway's cost to throughput, in the simulated lab: sim-01's llama-server at concurrency 8
straight to the engine and through the gateway on sim-03, side by side in one run.

    .venv/bin/python benchmarks/gateway_overhead.py [--rounds 3] [--requests 24]   # lab up and deployed

The other units serving `qwen3` are drained at the gateway while it runs (and put back after), so
that every request through the gateway reaches the same engine as the direct ones. Rounds alternate
direct and gateway; the figures are medians of the rounds (docs/gateway.md).
"""

import argparse
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.prompts import prompts
from thorfleet.bench.stats import summarize
from thorfleet.fleet import load_fleet
from thorfleet.roles.gateway.runtime import Gateway


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--words", type=int, default=200, help="prompt length in words")
    parser.add_argument("--output-len", type=int, default=32)
    args = parser.parse_args()
    fleet = load_fleet(Path("inventory/sim.py"))
    engine_host = fleet.hosts["sim-01"]
    engine = engine_host.config.engines["qwen3-8b"]
    key = engine.api_key.read()
    (gateway_host,) = fleet.with_role("gateway")
    gateway = gateway_host.config.gateway
    direct = Endpoint(f"http://{engine_host.address}:{engine.port}", "qwen3", key, chat=True)
    through = Endpoint(f"http://{gateway_host.address}:{gateway.port}", "qwen3", gateway.api_key.read(), chat=True)
    figures = {"direct": [], "gateway": []}
    with Gateway(gateway_host) as connected:
        others = sorted({r["unit"] for r in connected.servers() if r["backend"] == "chat.qwen3" and r["unit"] != "sim-01"})
        for unit in others:
            connected.set_unit_state(unit, "drain")
        try:
            texts = prompts(args.words, args.requests, 0)
            run_load(direct, texts[:8], args.output_len, 8)  # warm-up
            for round_number in range(args.rounds):
                for name, endpoint in (("direct", direct), ("gateway", through)):
                    results, duration = run_load(endpoint, texts, args.output_len, 8)
                    summary = summarize(results, duration, 8)
                    assert summary["failed"] == 0, summary.get("errors")
                    figures[name].append(summary)
                    print(f"round {round_number + 1} {name:8} {summary['output_throughput']:7.1f} output tok/s, "
                          f"median TTFT {summary['median_ttft_ms']:7.1f} ms, median ITL {summary['median_itl_ms']:6.2f} ms")
        finally:
            for unit in others:
                connected.set_unit_state(unit, "ready")
    table = Table(title=f"sim-01 llama-server, concurrency 8, {args.requests} requests × {args.rounds} rounds (medians)")
    for column in ("path", "output tok/s", "median TTFT ms", "median ITL ms"):
        table.add_column(column)
    medians = {}
    for name, runs in figures.items():
        medians[name] = statistics.median(r["output_throughput"] for r in runs)
        table.add_row(name, f"{medians[name]:.1f}", f"{statistics.median(r['median_ttft_ms'] for r in runs):.1f}",
                      f"{statistics.median(r['median_itl_ms'] for r in runs):.2f}")
    Console().print(table)
    print(f"gateway / direct: {medians['gateway'] / medians['direct'] * 100:.1f} %")


if __name__ == "__main__":
    main()
