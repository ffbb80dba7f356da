"""What `thorfleet tune` leaves behind: the `host_vars` patch, results.json, report.md and a plot
of throughput against TTFT with the pick marked."""

import json
from pathlib import Path

import yaml

from thorfleet.bench.report import plotting


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    if result["pick"]:
        (out / "patch.yml").write_text(patch(result))
    (out / "report.md").write_text(markdown(result))
    plot(result, out / "tune.png")


def patch(result: dict) -> str:
    head = (f"# thorfleet tune for {result['engine']} on {result['host']}: {result['pick_label']}.\n"
            f"# Merge into host_vars/{result['host']}.yml; the next deploy (or rollout) applies it.\n")
    return head + yaml.safe_dump({"engines": {result["engine"]: {"args": result["pick"]}}}, sort_keys=False)


def objective(result: dict) -> str:
    """What the pick maximises, and under which TTFT bound, in words."""
    w, bound = result["workload"], result["ttft_bound_ms"]
    if bound is None:
        return "the most output tok/s (no candidate served, so no TTFT bound)"
    how = "the target given" if w["ttft_ms"] else f"{w['ttft_slack']:g} × the lowest mean TTFT measured"
    return f"the most output tok/s at concurrency {max(w['concurrency'])} with a mean TTFT of at most {bound:.0f} ms ({how})"


def markdown(result: dict) -> str:
    w = result["workload"]
    lines = [f"# thorfleet tune: {result['engine']} on {result['host']}", "",
             f"Workload: {w['input_len']} tokens in, {w['output_len']} out, concurrency {', '.join(map(str, w['concurrency']))}, "
             f"{w['requests']} requests each; at least {w['slot_context']} tokens a slot.",
             f"Objective: {objective(result)}.",
             f"Took {result['duration_s']:.0f} s. Pick: **{result['pick_label'] or 'none (no candidate served)'}**.", ""]
    if result["unit_changed"]:
        lines += ["**The unit's power mode or clocks changed during the run**: the figures may not compare.", ""]
    lines += ["## First stage: llama-bench, prompt processing", "", "| -ub | -fa | prompt tok/s |", "|---|---|---|"]
    lines += [f"| {r['ubatch-size']} | {r['flash-attn']} | {r['prompt_tok_s']:.1f} |" for r in result["first_stage"]]
    if not result["first_stage"]:
        lines.append("| (llama-bench did not run: every pair went to the second stage) | | |")
    lines += ["", "## Candidates as servers (highest concurrency)", "",
              "| candidate | output tok/s | mean TTFT ms | within the TTFT bound | runs | load s | note |",
              "|---|---|---|---|---|---|---|"]
    bound = result["ttft_bound_ms"]
    for c in sorted(result["candidates"], key=lambda c: -c["throughput"]):
        mark = " (pick)" if c["label"] == result["pick_label"] else ""
        within = "-" if not c["runs"] or c["infeasible"] else "yes" if bound is None or c["ttft_ms"] <= bound else "no"
        lines.append(f"| {c['label']}{mark} | {c['throughput']:.1f} | {c['ttft_ms']:.0f} | {within} | {len(c['runs'])} | "
                     f"{c['load_s'] if c['load_s'] is not None else '-'} | {c['infeasible'] or ''} |")
    lines += ["", "How to read it: throughput is the median of a candidate's runs; a candidate is measured again "
              "until two runs agree within 5 % (at most 3). The pick is the fastest within the TTFT bound.", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    plt = plotting()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    served = [c for c in result["candidates"] if c["runs"]]
    axes.scatter([c["ttft_ms"] for c in served], [c["throughput"] for c in served], color="tab:blue")
    for c in served:
        axes.annotate(c["label"], (c["ttft_ms"], c["throughput"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    pick = [c for c in served if c["label"] == result["pick_label"]]
    if pick:
        axes.scatter([pick[0]["ttft_ms"]], [pick[0]["throughput"]], s=160, facecolors="none", edgecolors="tab:red", label="pick")
        axes.legend()
    if result["ttft_bound_ms"] is not None:
        axes.axvline(result["ttft_bound_ms"], color="tab:gray", linestyle="--", label="TTFT bound")
        axes.legend()
    axes.set_xlabel("mean TTFT (ms)")
    axes.set_ylabel("output tok/s")
    axes.set_title(f"thorfleet tune: {result['engine']} on {result['host']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
