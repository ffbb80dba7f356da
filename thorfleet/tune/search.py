"""`thorfleet tune`'s search, independent of where the servers run: the workload, the candidates
the first stage leaves, the pick, and when repeated measurements are stable enough to trust."""

import statistics
from dataclasses import dataclass, field

STABLE = 0.05  # two measurements of one candidate within 5 % of each other
MAX_REPEATS = 3


@dataclass(frozen=True)
class Workload:
    """What the unit must serve well (defaults: seed 002's high load)."""

    input_len: int = 2048
    output_len: int = 128
    concurrency: tuple[int, ...] = (8,)
    requests: int = 24  # per concurrency, after a warm-up
    ttft_ms: float | None = None  # mean TTFT target at the highest concurrency
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


def ranked(found: list[Candidate], workload: Workload) -> list[Candidate]:
    """Feasible candidates, best first: those within the TTFT target by throughput, then the rest."""
    feasible = [c for c in found if c.runs and not c.infeasible]
    within = [c for c in feasible if workload.ttft_ms is None or c.ttft_ms <= workload.ttft_ms]
    beyond = [c for c in feasible if c not in within]
    return sorted(within, key=lambda c: -c.throughput) + sorted(beyond, key=lambda c: c.ttft_ms)


def needs_another_run(candidate: Candidate) -> bool:
    return not candidate.infeasible and len(candidate.runs) < MAX_REPEATS and not candidate.stable
