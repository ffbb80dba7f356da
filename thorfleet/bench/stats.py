"""The figures of a run, as `vllm bench serve` defines them (vllm/benchmarks/serve.py).

TTFT: request sent → first content chunk. TPOT: (latency − TTFT) / (output tokens − 1), per request
with more than one output token. ITL: the gaps between streamed chunks, all requests pooled.
E2EL: request sent → end of the stream. Throughputs are totals over the run's duration. Times in
ms; percentiles interpolate linearly between the closest ranks (numpy's default).
"""

import statistics

PERCENTILES = (99,)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _spread(name: str, seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    figures = {f"mean_{name}_ms": statistics.fmean(ms) if ms else 0.0,
               f"median_{name}_ms": statistics.median(ms) if ms else 0.0}
    figures.update({f"p{p}_{name}_ms": percentile(ms, p) for p in PERCENTILES})
    return figures


def summarize(results, duration: float, concurrency: int) -> dict:
    done = [r for r in results if r.ok]
    input_tokens = sum(r.prompt_tokens for r in done)
    output_tokens = sum(r.output_tokens for r in done)
    tpots = [(r.latency - r.ttft) / (r.output_tokens - 1) for r in done if r.output_tokens > 1]
    figures = {
        "completed": len(done),
        "failed": len(results) - len(done),
        "max_concurrency": concurrency,
        "duration_s": duration,
        "total_input_tokens": input_tokens,
        "total_output_tokens": output_tokens,
        "request_throughput": len(done) / duration if duration else 0.0,
        "output_throughput": output_tokens / duration if duration else 0.0,
        "total_token_throughput": (input_tokens + output_tokens) / duration if duration else 0.0,
        **_spread("ttft", [r.ttft for r in done]),
        **_spread("tpot", tpots),
        **_spread("itl", [gap for r in done for gap in r.itl]),
        **_spread("e2el", [r.latency for r in done]),
    }
    errors = sorted({r.error for r in results if not r.ok})
    if errors:
        figures["errors"] = errors[:5]
    return figures
