"""On the GPU machine: the defaults thorfleet renders for a llama-server whose `args` are empty,
against llama.cpp's own defaults (only `--ctx-size 0`) and an exhaustive sweep of `--parallel`
{4, 8, 16} × `--ubatch-size` {512, 1024, 2048} × `--flash-attn` {on, off}, all at seed 002's high
load (concurrency 8, 2048 tokens in, 128 out), one server at a time, in one run. Each server's
startup log lines about memory are kept for the memory plan's tests.

    python3 benchmarks/serving/device_sweep.py VOCAB_GGUF OUT_DIR PART    # from .device/fleet (run.sh)

PART `a`: the model, both defaults and the flash-attention-on half; `b`: the other half, the
latency profile and single-request runs; `c`: the defaults and the flash-attention-on half again
with `--cache-ram 0` (each part fits in one 10-minute device call).
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from device_bench import model, wait_healthy  # noqa: E402

from thorfleet.bench import prompts  # noqa: E402
from thorfleet.bench.client import Endpoint, run_load  # noqa: E402
from thorfleet.bench.stats import summarize  # noqa: E402
from thorfleet.fleet import load_fleet  # noqa: E402
from thorfleet.roles.engines.commands import engine_argv  # noqa: E402

INPUT, OUTPUT = 2048, 128
REQUESTS = {1: 6, 8: 24}  # per concurrency: 3 waves at 8, after a warm-up
SLOT_CONTEXT = 8192
# Lines of llama.cpp's startup log that say what it allocated (the memory plan is checked against them).
MEMORY_LINE = re.compile(r"(buffer size|KV buffer|llama_kv_cache: size|n_ctx_seq|n_ctx *=|n_slots|kv_unified|"
                         r"prompt cache|cache_ram|fit)", re.I)


def sweep_args(parallel: int, ubatch: int, flash: str) -> dict:
    return {"gpu-layers": 999, "parallel": parallel, "ctx-size": parallel * SLOT_CONTEXT, "ubatch-size": ubatch,
            "batch-size": 2048, "flash-attn": flash, "load-mode": "mlock"}


def flags(args: dict) -> list[str]:
    return [w for k, v in args.items() for w in (f"--{k}", str(v))]


def serve_and_measure(label: str, argv: list[str], shapes: tuple[int, ...], words: list) -> list[dict]:
    log_path = Path("/tmp") / f"log-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.txt"  # kept in the JSON
    base = "http://127.0.0.1:8000"
    records = []
    with open(log_path, "w") as log:
        server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            loaded = wait_healthy(base, server)
            endpoint = Endpoint(base, "qwen3")
            if not words:
                words.append(prompts.calibrate(endpoint, INPUT))
            for concurrency in shapes:
                run_load(endpoint, prompts.prompts(words[0], concurrency, 7_000 * concurrency), 16, concurrency)
                results, duration = run_load(endpoint, prompts.prompts(words[0], REQUESTS[concurrency], 900_000 + concurrency),
                                             OUTPUT, concurrency)
                figures = summarize(results, duration, concurrency)
                records.append({"label": label, "concurrency": concurrency, "command_line": " ".join(argv[1:]),
                                "load_s": round(loaded, 1), "figures": figures})
                print(f"{label:48s} c={concurrency}  {figures['output_throughput']:7.1f} tok/s  "
                      f"TTFT {figures['mean_ttft_ms']:7.0f} ms  TPOT {figures['mean_tpot_ms']:6.2f} ms  "
                      f"failed {figures['failed']}", flush=True)
        except SystemExit as err:  # did not load: recorded as infeasible, the sweep goes on
            records.append({"label": label, "command_line": " ".join(argv[1:]), "infeasible": str(err)})
            print(f"{label:48s} infeasible: {err}", flush=True)
        finally:
            server.terminate()
            server.wait(60)
    lines = [line.rstrip() for line in log_path.read_text(errors="replace").splitlines() if MEMORY_LINE.search(line)]
    for record in records:
        record["memory_log"] = lines
    return records


def main(vocab: str, out: str, part: str) -> None:
    out_dir = Path(out)
    config = load_fleet(Path("inventory/serve.py")).hosts["@local"].config
    engine = config.engines["qwen3-8b"]
    rendered = engine_argv(config, "qwen3-8b", engine)[0]
    path = model(config, Path(vocab), Path(rendered[0]).parent)
    own = rendered[:rendered.index("--alias") + 2] + ["--metrics"]  # program, model, address, name: no tuning flags
    print("== thorfleet renders:", " ".join(rendered[1:]), flush=True)
    words: list = []
    runs = []
    if part == "c":  # after cache-ram 0 joined the defaults: the defaults and the flash-attention-on half with it
        runs.append(("thorfleet defaults (args empty)", rendered, (8, 1)))
        runs += [(f"-np {p} -ub {u} -fa on --cache-ram 0", own + flags(sweep_args(p, u, "on")) + ["--cache-ram", "0"], (8,))
                 for p in (4, 8, 16) for u in (512, 1024, 2048)]
    elif part == "a":
        runs.append(("thorfleet defaults (args empty)", rendered, (8, 1)))
        runs.append(("llama.cpp defaults (--ctx-size 0 only)", own + ["--ctx-size", "0"], (8,)))
        runs += [(f"-np {p} -ub {u} -fa on", own + flags(sweep_args(p, u, "on")), (8,)) for p in (4, 8, 16) for u in (512, 1024, 2048)]
    else:
        runs += [(f"-np {p} -ub {u} -fa off", own + flags(sweep_args(p, u, "off")), (8,)) for p in (4, 8, 16) for u in (512, 1024, 2048)]
        latency = config.model_copy(update={"engines": {"qwen3-8b": engine.model_copy(update={"profile": "latency"})}})
        runs.append(("thorfleet defaults, profile latency", engine_argv(latency, "qwen3-8b", latency.engines["qwen3-8b"])[0], (1, 8)))
        runs.append(("thorfleet defaults + --cache-ram 0", rendered + ["--cache-ram", "0"], (8, 1)))
    records = []
    started = time.time()
    for label, argv, shapes in runs:
        records += serve_and_measure(label, argv, shapes, words)
    print(f"== {len(runs)} servers in {time.time() - started:.0f} s; model {path}", flush=True)
    (out_dir / f"sweep-{part}.json").write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
