"""On the GPU machine: a Qwen3-8B-shaped Q5_K_M model, llama-server started with the command line
thorfleet renders for it, and `thorfleet bench`'s client at seed 002's shapes, checked against
llama-server's own per-request `timings` and its /metrics counters over the same runs.

    python3 benchmarks/serving/device_bench.py VOCAB_GGUF OUT_DIR    # from .device/fleet (run.sh)
"""

import json
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from thorfleet.bench import prompts, report
from thorfleet.bench.client import Endpoint, run_load
from thorfleet.bench.stats import summarize
from thorfleet.fleet import load_fleet
from thorfleet.lab.lab_models import QWEN3_8B, write_qwen2
from thorfleet.roles.engines.commands import engine_argv

SHAPES = ((1, 10), (8, 100))  # seed 002: low and high load
INPUT, OUTPUT = 2048, 128


def model(config, vocab: Path, bin_dir: Path) -> Path:
    target = Path(config.model_store.load_path(config.models["qwen3-8b-gguf"]))
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    f16 = target.with_suffix(".f16.gguf")
    start = time.time()
    write_qwen2(vocab, f16, QWEN3_8B, "Qwen3-8B-shaped (random weights)")
    print(f"== F16 written in {time.time() - start:.0f} s ({f16.stat().st_size / 1e9:.2f} GB)", flush=True)
    start = time.time()
    subprocess.run([str(bin_dir / "llama-quantize"), str(f16), str(target), "Q5_K_M"], check=True, stdout=subprocess.DEVNULL)
    f16.unlink()
    print(f"== Q5_K_M in {time.time() - start:.0f} s ({target.stat().st_size / 1e9:.2f} GB)", flush=True)
    return target


def metrics(base: str) -> dict[str, float]:
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(llamacpp:\w+)\s+([\d.e+-]+)$", text, re.M)}


def wait_healthy(base: str, server: subprocess.Popen, timeout: float = 600) -> float:
    start = time.time()
    while time.time() - start < timeout:
        if server.poll() is not None:
            raise SystemExit(f"llama-server exited with {server.returncode}")
        try:
            if urllib.request.urlopen(base + "/health", timeout=5).status == 200:
                return time.time() - start
        except OSError:
            time.sleep(1)
    raise SystemExit("llama-server not healthy in time")


def agreement(client: float, server: float) -> dict:
    return {"client": client, "server": server, "difference": (client - server) / server if server else None}


def main(vocab: str, out: str) -> None:
    out_dir = Path(out)
    config = load_fleet(Path("inventory/serve.py")).hosts["@local"].config
    argv = engine_argv(config, "qwen3-8b", config.engines["qwen3-8b"])[0]
    path = model(config, Path(vocab), Path(argv[0]).parent)
    print("== command line (as the unit renders it):", " ".join(argv), flush=True)
    log = open(out_dir / "llama-server.log", "w")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:8000"
    try:
        print(f"== healthy after {wait_healthy(base, server):.0f} s", flush=True)
        endpoint = Endpoint(base, "qwen3")
        words = prompts.calibrate(endpoint, INPUT)
        records = []
        for concurrency, count in SHAPES:
            run_load(endpoint, prompts.prompts(words, concurrency, 10_000 * concurrency), 16, concurrency)  # warm-up
            before = metrics(base)
            results, duration = run_load(endpoint, prompts.prompts(words, count, 1_000_000 * concurrency), OUTPUT, concurrency)
            after = metrics(base)
            figures = summarize(results, duration, concurrency)
            delta = {k: after[k] - before.get(k, 0) for k in after if k.endswith("_total")}
            timed = [r for r in results if r.ok and r.server_timings]
            checks = {
                "output tokens vs llamacpp:tokens_predicted_total": agreement(figures["total_output_tokens"], delta.get("llamacpp:tokens_predicted_total", 0)),
                "input tokens vs llamacpp:prompt_tokens_total": agreement(figures["total_input_tokens"], delta.get("llamacpp:prompt_tokens_total", 0)),
                "mean TPOT ms vs timings predicted_ms/(predicted_n-1)": agreement(
                    figures["mean_tpot_ms"], statistics.fmean(r.server_timings["predicted_ms"] / (r.server_timings["predicted_n"] - 1) for r in timed)),
                "per-request decode tok/s vs timings predicted_per_second": agreement(
                    statistics.fmean((r.output_tokens - 1) / (r.latency - r.ttft) for r in results if r.ok),
                    statistics.fmean(r.server_timings["predicted_per_second"] for r in timed)),
            }
            if concurrency == 1:  # no queueing: time to first token is the server's prompt time plus the wire
                checks["mean TTFT ms vs timings prompt_ms"] = agreement(
                    figures["mean_ttft_ms"], statistics.fmean(r.server_timings["prompt_ms"] for r in timed))
            record = {"host": "device", "engine": "qwen3-8b", "unit": {"nvpmodel": None, "clocks_locked": None},
                      "context": {"kind": "llama-server", "served_model": "qwen3", "command_line": " ".join(argv),
                                  "model_file": str(path)},
                      "shape": {"concurrency": concurrency, "prompts": count, "input_len": INPUT, "output_len": OUTPUT},
                      "figures": figures, "status": [], "checks": checks, "metrics_delta": delta}
            records.append(record)
            print(report.serving_block(record), flush=True)
            for name, check in checks.items():
                print(f"   {name}: client {check['client']:.2f}, server {check['server']:.2f}, "
                      f"difference {check['difference']:+.2%}", flush=True)
        results_doc = {"thorfleet": "checkout", "started": "", "finished": "", "inventory": "device", "records": records}
        (out_dir / "results.json").write_text(json.dumps(results_doc, indent=2))
        (out_dir / "report.md").write_text(report.report_markdown(results_doc))
    finally:
        server.terminate()
        server.wait(30)
        log.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
