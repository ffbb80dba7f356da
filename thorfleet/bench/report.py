"""What a bench run leaves in its folder: results.json, report.md (the seeds' tables and seed 002's
"Serving Benchmark Result" block per run) and PNG plots; and `bench compare` of two runs."""

import json
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator

from thorfleet.core.json_file import read_json

LLM_COLUMNS = (("output tok/s", "output_throughput", "{:.1f}"), ("total tok/s", "total_token_throughput", "{:.1f}"),
               ("mean TTFT ms", "mean_ttft_ms", "{:.1f}"), ("median TTFT ms", "median_ttft_ms", "{:.1f}"),
               ("p99 TTFT ms", "p99_ttft_ms", "{:.1f}"), ("mean TPOT ms", "mean_tpot_ms", "{:.2f}"),
               ("median TPOT ms", "median_tpot_ms", "{:.2f}"), ("p99 TPOT ms", "p99_tpot_ms", "{:.2f}"),
               ("failed", "failed", "{}"))
WHISPER_COLUMNS = (("mean latency ms", "mean_latency_ms", "{:.0f}"), ("median latency ms", "median_latency_ms", "{:.0f}"),
                   ("p99 latency ms", "p99_latency_ms", "{:.0f}"), ("real-time factor", "mean_rtf", "{:.3f}"),
                   ("audio s/s", "audio_s_per_s", "{:.2f}"), ("failed", "failed", "{}"))
# Figure → True when higher is better; what `bench compare` checks.
COMPARED = {"output_throughput": True, "total_token_throughput": True, "mean_ttft_ms": False, "median_ttft_ms": False,
            "p99_ttft_ms": False, "mean_tpot_ms": False, "median_tpot_ms": False,
            "mean_latency_ms": False, "mean_rtf": False, "audio_s_per_s": True}


def is_whisper(record: dict) -> bool:
    return "audio_s" in record.get("shape", {})


def shape_title(shape: dict) -> str:
    if "audio_s" in shape:
        return f"whisper-server: {shape['audio_s']:g} s of audio, concurrency {shape['concurrency']}, {shape['prompts']} requests"
    cold = "cold start (the model not loaded: its load included), " if shape.get("cold") else ""
    return (f"{cold}concurrency {shape['concurrency']}, {shape['prompts']} prompts, input {shape['input_len']} tokens, "
            f"output {shape['output_len']} tokens")


def shape_short(shape: dict) -> str:
    if "audio_s" in shape:
        return f"c={shape['concurrency']} audio {shape['audio_s']:g}s"
    return f"c={shape['concurrency']} {shape['input_len']}/{shape['output_len']}" + (" cold" if shape.get("cold") else "")


def _status(record: dict) -> str:
    return "; ".join(record.get("status") or []) or "ok"


def serving_block(record: dict) -> str:
    """Seed 002's (and `vllm bench serve`'s) result block."""
    f = record["figures"]
    line = lambda label, value: f"{label:<40}{value}"
    rows = ["============ Serving Benchmark Result ============",
            line("Successful requests:", f["completed"]), line("Failed requests:", f["failed"]),
            line("Maximum request concurrency:", f["max_concurrency"]),
            line("Benchmark duration (s):", f"{f['duration_s']:.2f}"),
            line("Total input tokens:", f["total_input_tokens"]), line("Total generated tokens:", f["total_output_tokens"]),
            line("Request throughput (req/s):", f"{f['request_throughput']:.2f}"),
            line("Output token throughput (tok/s):", f"{f['output_throughput']:.2f}"),
            line("Total Token throughput (tok/s):", f"{f['total_token_throughput']:.2f}")]
    for name, title in (("ttft", "Time to First Token"), ("tpot", "Time per Output Token (excl. 1st token)"),
                        ("itl", "Inter-token Latency")):
        rows.append(f"{title:-^50}")
        rows += [line(f"{stat.capitalize() if stat != 'p99' else 'P99'} {name.upper()} (ms):", f"{f[f'{stat}_{name}_ms']:.2f}")
                 for stat in ("mean", "median", "p99")]
    rows.append("=" * 50)
    return "\n".join(rows)


def report_markdown(results: dict) -> str:
    out = [f"# thorfleet bench: {results['inventory']}", "",
           f"thorfleet {results['thorfleet']}, {results['started']} to {results['finished']} (UTC). Figures as "
           "`vllm bench serve` defines them (docs/bench.md); a row whose status is not `ok` is not a clean figure.", ""]
    groups: dict[str, list[dict]] = {}
    for record in results["records"]:
        groups.setdefault(shape_title(record["shape"]) if record.get("shape") else "not measured", []).append(record)
    for title, records in groups.items():
        out += [f"## {title}", ""]
        measured = [r for r in records if r.get("figures")]
        columns = WHISPER_COLUMNS if measured and is_whisper(measured[0]) else LLM_COLUMNS
        out.append("| host | engine | kind | model | nvpmodel | clocks | " + " | ".join(c[0] for c in columns) + " | status |")
        out.append("|" + "---|" * (len(columns) + 7))
        for r in records:
            mode = (r["unit"].get("nvpmodel") or {}).get("name", "?")
            clocks = {True: "locked", False: "not locked", None: "?"}[r["unit"].get("clocks_locked")]
            figures = [fmt.format(r["figures"][key]) if r.get("figures") else "-" for _, key, fmt in columns]
            out.append(f"| {r['host']} | {r['engine']} | {r['context']['kind']} | {r['context']['served_model']} | {mode} | "
                       f"{clocks} | " + " | ".join(figures) + f" | {_status(r)} |")
        out.append("")
    out += ["## Runs", ""]
    for r in results["records"]:
        if r.get("figures") and not is_whisper(r):
            out += [f"### {r['host']} {r['engine']}: {shape_title(r['shape'])}", "",
                    f"Command line: `{r['context']['command_line'] or '?'}`", "", "```", serving_block(r), "```", ""]
    return "\n".join(out)


def plotting():
    """matplotlib's pyplot drawing to files (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plots(results: dict, folder: Path) -> list[Path]:
    """Output tok/s and mean TTFT per engine (host/engine, model) and concurrency; whisper's latency."""
    plt = plotting()

    written = []
    llm = [r for r in results["records"] if r.get("figures") and not is_whisper(r) and not r["shape"].get("cold")]
    for key, title, name in (("output_throughput", "Output tokens/s (higher is better)", "throughput.png"),
                             ("mean_ttft_ms", "Mean time to first token, ms (lower is better)", "ttft.png")):
        if not llm:
            break
        engines = sorted({(r["context"]["served_model"], r["host"], r["engine"]) for r in llm})
        levels = sorted({r["shape"]["concurrency"] for r in llm})
        figure, axes = plt.subplots(figsize=(max(6, 1.2 * len(engines) * len(levels)), 4.5))
        width = 0.8 / len(levels)
        for i, level in enumerate(levels):
            values = [next((r["figures"][key] for r in llm if (r["context"]["served_model"], r["host"], r["engine"]) == e
                            and r["shape"]["concurrency"] == level), 0) for e in engines]
            bars = axes.bar([x + i * width for x in range(len(engines))], values, width, label=f"concurrency {level}")
            axes.bar_label(bars, fmt="%.0f", fontsize=8)
        axes.set_xticks([x + width * (len(levels) - 1) / 2 for x in range(len(engines))])
        axes.set_xticklabels([f"{host}/{engine}\n{model}" for model, host, engine in engines], fontsize=8)
        axes.set_title(title)
        axes.legend()
        figure.tight_layout()
        figure.savefig(folder / name, dpi=110)
        plt.close(figure)
        written.append(folder / name)
    asr = [r for r in results["records"] if r.get("figures") and is_whisper(r)]
    if asr:
        figure, axes = plt.subplots(figsize=(6, 4))
        labels = [f"{r['host']}/{r['engine']}\nc={r['shape']['concurrency']}" for r in asr]
        bars = axes.bar(labels, [r["figures"]["mean_latency_ms"] for r in asr])
        axes.bar_label(bars, fmt="%.0f", fontsize=8)
        axes.set_title(f"whisper-server mean latency, ms, for {asr[0]['shape']['audio_s']:g} s of audio")
        figure.tight_layout()
        figure.savefig(folder / "whisper.png", dpi=110)
        plt.close(figure)
        written.append(folder / "whisper.png")
    return written


def write(results: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / "report.md").write_text(report_markdown(results))
    return [folder / "results.json", folder / "report.md", *plots(results, folder)]


class _Record(BaseModel):
    """What `compare` and the report read of one record of results.json."""

    model_config = ConfigDict(extra="allow")
    host: str
    engine: str
    shape: dict[str, int | float] = {}
    figures: dict[str, Any] | None = None  # the compared ones numbers; others may be more (server_timings)
    status: list[str] = []

    @model_validator(mode="after")
    def _measured_has_its_shape_and_numbers(self) -> Self:
        if self.figures is None:
            return self
        needed = {"audio_s", "concurrency", "prompts"} if "audio_s" in self.shape else {"concurrency", "prompts", "input_len", "output_len"}
        if not needed <= set(self.shape):
            raise ValueError(f"a measured record's shape needs {', '.join(sorted(needed - set(self.shape)))}")
        wrong = sorted(k for k in {*COMPARED, "failed"} & set(self.figures) if not isinstance(self.figures[k], (int, float)))
        if wrong:
            raise ValueError(f"figures {', '.join(wrong)} must be numbers")
        return self


class _Results(BaseModel):
    model_config = ConfigDict(extra="allow")
    records: list[_Record]


def load(path: Path) -> dict:
    """A run's results (its folder, or its results.json); UnreadableFile when it is not one."""
    results: _Results = read_json(path / "results.json" if path.is_dir() else path, _Results, "the results of a thorfleet bench run")
    return results.model_dump()


def _key(record: dict) -> tuple:
    return record["host"], record["engine"], record.get("context", {}).get("served_model"), tuple(sorted(record["shape"].items()))


def compare(old: dict, new: dict, tolerance: float) -> tuple[list[tuple], list[str]]:
    """Rows (host, engine, shape, figure, old, new, change, regressed) for records in both runs, and
    what could not be compared."""
    before = {_key(r): r for r in old["records"] if r.get("figures")}
    rows, unmatched = [], []
    for record in new["records"]:
        if not record.get("figures"):
            unmatched.append(f"{record['host']} {record['engine']}: not measured in the new run ({_status(record)})")
            continue
        previous = before.get(_key(record))
        if previous is None:
            unmatched.append(f"{record['host']} {record['engine']} {shape_title(record['shape'])}: not in the old run")
            continue
        for figure, higher_is_better in COMPARED.items():
            if figure not in record["figures"] or figure not in previous["figures"]:
                continue
            was, now = previous["figures"][figure], record["figures"][figure]
            change = (now - was) / was if was else 0.0
            worse = -change if higher_is_better else change
            rows.append((record["host"], record["engine"], shape_short(record["shape"]), figure, was, now, change,
                         worse > tolerance))
        if record["figures"].get("failed", 0) > previous["figures"].get("failed", 0):
            rows.append((record["host"], record["engine"], shape_short(record["shape"]), "failed",
                         previous["figures"].get("failed", 0), record["figures"]["failed"], 0.0, True))
    return rows, unmatched
