"""The canary's performance gate: its chat engines measured with `thorfleet bench`'s client, a short
run repeated, before its change (drained, still the old engine) and after (drained, the new one).
A figure regresses only when its median moved by more than the tolerance *and* the runs after are
worse than the runs before beyond chance: a one-sided Mann–Whitney test on the runs (every pair of a
run before and a run after, counted) at 2.5 %, so one stray run does not hide a regression and a noisy
pair of measurements does not make one. The gate decides from its own repeats, not from a guess of the noise."""

import statistics
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from thorfleet.bench import prompts
from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.stats import summarize
from thorfleet.core.fleet import CHAT, ROUTER, FleetHost
from thorfleet.core.ssh import forward, ssh_client
from thorfleet.roles.engines.commands import served_name
from thorfleet.roles.engines.deploy import health_url


@dataclass(frozen=True)
class GateShape:
    """Small enough for a gate (seconds per run on a Thor), large enough that prompt processing and
    decoding both count. `prompts` is the least a run sends: the gate scales it to its time budget."""

    concurrency: int = 2
    prompts: int = 4
    input_len: int = 256
    output_len: int = 32
    repeats: int = 5  # 5 runs a side: the rank test then tells a regression at 2.5 % despite one stray run
    most_prompts: int = 64  # a fast engine's runs stop growing here


def scaled_prompts(shape: GateShape, probe_s: float, budget_s: float) -> int:
    """Prompts a run sends so that an engine's `repeats` runs take about `budget_s`, from a probe run of
    `shape.prompts` that took `probe_s`: more prompts a run where the budget allows (less noise), never
    fewer than the shape's, a multiple of its concurrency."""
    per_run = budget_s / shape.repeats
    wanted = int(shape.prompts * per_run / probe_s) if probe_s > 0 else shape.most_prompts
    wanted -= wanted % shape.concurrency
    return max(shape.prompts, min(shape.most_prompts, wanted))


# (figure, what it is, +1 when higher is better)
FIGURES = (("output_throughput", "output tok/s", 1), ("mean_ttft_ms", "mean TTFT ms", -1))


def measure(host: FleetHost, budget_s: float, like: dict[str, list[dict[str, Any]]] | None = None,
            shape: GateShape = GateShape()) -> dict[str, list[dict[str, Any]]]:
    """Each chat engine of the unit, straight (not through the gateway): `repeats` runs after a warm-up,
    each of as many prompts as fit the engines' share of `budget_s` (a probe run tells), or of as many as
    the runs in `like` (the measurement before the change, so that both sides send the same); an engine
    that does not answer is left out. Unreachable when the unit cannot be reached."""
    found = {}
    gated = {name: engine for name, engine in host.config.engines.items()
             if engine.serves == CHAT and engine.kind != ROUTER}  # a router's models load on demand: not gated yet
    client = ssh_client(host)
    try:
        for name, engine in gated.items():
            key = engine.api_key.read() if engine.api_key else None
            address = health_url(engine).split("//", 1)[1].split("/", 1)[0]
            remote_host, remote_port = address.rsplit(":", 1)
            with forward(client, remote_host.strip("[]"), int(remote_port)) as port:
                endpoint = Endpoint(f"http://127.0.0.1:{port}", served_name(name, engine), key)
                try:
                    words = prompts.calibrate(endpoint, shape.input_len, tries=3)
                except OSError:
                    continue
                run_load(endpoint, prompts.prompts(words, shape.concurrency, 10_000_000), 8, shape.concurrency)  # warm-up
                if like and like.get(name):
                    count = like[name][0]["prompts"]
                else:
                    _, probe_s = run_load(endpoint, prompts.prompts(words, shape.prompts, 15_000_000), shape.output_len,
                                          shape.concurrency)
                    count = scaled_prompts(shape, probe_s, budget_s / len(gated))
                runs = []
                for repeat in range(shape.repeats):
                    results, duration = run_load(endpoint, prompts.prompts(words, count, 20_000_000 + 1000 * repeat),
                                                 shape.output_len, shape.concurrency)
                    runs.append({**summarize(results, duration, shape.concurrency), "prompts": count})
                found[name] = runs
    finally:
        client.close()
    return found


SIGNIFICANCE = 0.025  # the chance that runs of an unchanged engine would look this much worse


def worse_pairs(before: list[float], after: list[float], better: int) -> int:
    """How many (run before, run after) pairs have the run after worse (ties count half, as halves of 2)."""
    return sum(2 if (a - b) * better < 0 else 1 if a == b else 0 for b in before for a in after)


def chance_of_worse(before: list[float], after: list[float], better: int) -> float:
    """The exact one-sided p-value of the Mann–Whitney test: of every way to split the pooled runs into
    groups of these sizes, the share whose `after` group is at least as worse as the real one."""
    pooled, seen = before + after, worse_pairs(before, after, better)
    splits = [set(chosen) for chosen in combinations(range(len(pooled)), len(after))]
    as_worse = sum(worse_pairs([pooled[i] for i in range(len(pooled)) if i not in chosen], [pooled[i] for i in chosen],
                               better) >= seen for chosen in splits)
    return as_worse / len(splits)


def judge(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]], tolerance: float) -> tuple[bool, str]:
    """(passed, one line per engine: each figure before → after, and what regressed)."""
    lines, passed = [], True
    for name in sorted(set(before) & set(after)):
        said, regressed = [], []
        for figure, label, better in FIGURES:
            old = [run[figure] for run in before[name] if not run.get("failed")]
            new = [run[figure] for run in after[name] if not run.get("failed")]
            if not old or not new:
                regressed.append(f"{label}: no run without failed requests")
                continue
            old_median, new_median = statistics.median(old), statistics.median(new)
            change = (new_median - old_median) / old_median if old_median else 0.0
            said.append(f"{label} {old_median:.1f} → {new_median:.1f} ({change:+.0%})")
            worse_by = -change * better
            chance = chance_of_worse(old, new, better)
            if worse_by > tolerance and chance <= SIGNIFICANCE:
                regressed.append(f"{label} {worse_by:.0%} worse, beyond the {tolerance:.0%} tolerance, runs after worse than "
                                 f"runs before in {worse_pairs(old, new, better) / 2:g} of {len(old) * len(new)} pairs "
                                 f"(chance {chance:.1%})")
        passed = passed and not regressed
        lines.append(f"{name}: {', '.join(said)}" + (f": REGRESSED: {'; '.join(regressed)}" if regressed else ": within tolerance"))
    missing = sorted(set(before) - set(after))
    if missing:
        passed = False
        lines.append(f"{', '.join(missing)}: answered before the change, not after")
    return passed, "; ".join(lines) or "no chat engine measured"
