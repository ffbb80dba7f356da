"""`thorfleet tune`'s search, independent of where the servers run (a unit's transient units, or
plain processes on the GPU test machine): the workload, the candidates the first stage leaves, the
order they are measured in, the pick, and when repeated measurements are stable enough to trust."""

import json
import statistics
from dataclasses import dataclass, field

STABLE = 0.05  # two measurements of one candidate within 5 % of each other
MAX_REPEATS = 3
# Without a TTFT target, the pick's mean TTFT may be at most this many times the lowest any candidate
# reached: a few per cent of throughput are not worth a first token several times later (in the lab a
# pick by throughput alone gave +6 % tok/s for 4.8 times the TTFT). Per profile; `--ttft-slack` sets it.
TTFT_SLACK = {"throughput": 1.5, "latency": 1.1}


@dataclass(frozen=True)
class Workload:
    """What the unit must serve well (defaults: seed 002's high load)."""

    input_len: int = 2048
    output_len: int = 128
    concurrency: tuple[int, ...] = (8,)
    requests: int = 24  # per concurrency, after a warm-up
    ttft_ms: float | None = None  # mean TTFT target at the highest concurrency
    ttft_slack: float = TTFT_SLACK["throughput"]  # without a target: the bound, × the lowest mean TTFT measured
    slot_context: int = 8192  # the least context one request may get
    slots: tuple[int, ...] = (4, 8, 16)
    ubatches: tuple[int, ...] = (512, 1024, 2048)
    flash: tuple[str, ...] = ("on", "off")
    keep: int = 2  # (ubatch, flash attention) pairs the first stage passes on

    @property
    def context(self) -> int:
        return max(self.slot_context, self.input_len + self.output_len)


@dataclass
class Candidate:
    args: dict  # the tuned llama-server flags
    runs: list[dict] = field(default_factory=list)  # figures at the highest concurrency, one per measurement
    by_concurrency: dict = field(default_factory=dict)
    infeasible: str | None = None
    load_s: float | None = None

    @property
    def label(self) -> str:
        a = self.args
        return f"-np {a['parallel']} -ub {a['ubatch-size']} -fa {a['flash-attn']}"

    @property
    def throughput(self) -> float:
        return statistics.median(r["output_throughput"] for r in self.runs) if self.runs else 0.0

    @property
    def ttft_ms(self) -> float:
        return statistics.median(r["mean_ttft_ms"] for r in self.runs) if self.runs else float("inf")

    @property
    def stable(self) -> bool:
        values = [r["output_throughput"] for r in self.runs[-2:]]
        return len(values) == 2 and abs(values[0] - values[1]) <= STABLE * max(values)


def first_stage_pairs(workload: Workload, bench_rows: list[dict]) -> list[tuple[int, str]]:
    """The (ubatch, flash attention) pairs with the fastest prompt processing; all of them when the
    first stage could not run."""
    if not bench_rows:
        return [(u, f) for u in workload.ubatches for f in workload.flash]
    ranked = sorted(bench_rows, key=lambda r: r["prompt_tok_s"], reverse=True)
    return [(r["ubatch-size"], r["flash-attn"]) for r in ranked[:workload.keep]]


def candidates(workload: Workload, pairs: list[tuple[int, str]]) -> list[Candidate]:
    return [Candidate({"parallel": slots, "ctx-size": slots * workload.context, "ubatch-size": ubatch,
                       "batch-size": max(2048, ubatch), "flash-attn": flash})
            for slots in workload.slots for ubatch, flash in pairs]


def ttft_bound(found: list[Candidate], workload: Workload) -> float | None:
    """The mean TTFT a pick may have: the target when one is given, else `ttft_slack` times the lowest
    any candidate reached (None before any was measured)."""
    if workload.ttft_ms is not None:
        return workload.ttft_ms
    measured = [c.ttft_ms for c in found if c.runs and not c.infeasible]
    return min(measured) * workload.ttft_slack if measured else None


def ranked(found: list[Candidate], workload: Workload) -> list[Candidate]:
    """Feasible candidates, best first: the most throughput within the TTFT bound, then the rest by TTFT."""
    feasible = [c for c in found if c.runs and not c.infeasible]
    bound = ttft_bound(found, workload)
    within = [c for c in feasible if bound is None or c.ttft_ms <= bound]
    beyond = [c for c in feasible if c not in within]
    return sorted(within, key=lambda c: -c.throughput) + sorted(beyond, key=lambda c: c.ttft_ms)


def needs_another_run(candidate: Candidate) -> bool:
    return not candidate.infeasible and len(candidate.runs) < MAX_REPEATS and not candidate.stable


def first_stage_rows(llama_bench_json: str) -> list[dict]:
    """llama-bench's `-o json` output as (ubatch, flash attention, prompt tok/s) rows."""
    start = llama_bench_json.find("[")
    if start < 0:
        return []
    return [{"ubatch-size": r["n_ubatch"], "flash-attn": "on" if r.get("flash_attn") in (True, 1) else "off",
             "prompt_tok_s": r["avg_ts"]} for r in json.loads(llama_bench_json[start:]) if r.get("n_prompt")]


def llama_bench_args(workload: Workload, model_path: str) -> list[str]:
    """One llama-bench process for every (ubatch, flash attention) pair, prompt processing only."""
    return ["-m", model_path, "-p", str(workload.input_len), "-n", "0", "-b", str(max(2048, *workload.ubatches)),
            "-ub", ",".join(map(str, workload.ubatches)), "-fa", ",".join("1" if f == "on" else "0" for f in workload.flash),
            "-ngl", "999", "-r", "1", "-o", "json"]


def search(workload: Workload, bench_rows: list[dict], measure_one) -> list[Candidate]:
    """Every candidate measured once by `measure_one(candidate)` (which fills its runs, or says why
    it is infeasible), then the two best again until their runs agree."""
    found = candidates(workload, first_stage_pairs(workload, bench_rows))
    queue = list(found)
    while queue:
        measure_one(queue.pop(0))
        if not queue:
            queue = [c for c in ranked(found, workload)[:2] if needs_another_run(c)]
    return found


def outcome(workload: Workload, bench_rows: list[dict], found: list[Candidate]) -> dict:
    best = ranked(found, workload)
    return {"workload": workload.__dict__, "first_stage": bench_rows, "ttft_bound_ms": ttft_bound(found, workload),
            "candidates": [c.__dict__ | {"label": c.label, "throughput": c.throughput, "ttft_ms": c.ttft_ms} for c in found],
            "pick": best[0].args if best else None, "pick_label": best[0].label if best else None}
