"""On the GPU machine (issue 32, not run yet: no device was lent in the session that wrote it): a
Qwen3-Coder-30B-A3B-shaped model (benchmarks/serving/moe_model.py, Q5_K, random weights) served by the
command line thorfleet renders for it, by llama.cpp's own defaults, and by a sweep of the flags that
matter for MoE, one server at a time. Every row states `--cache-ram`: thorfleet's defaults set it to 0,
and it changes results by half.

    python3 benchmarks/serving/device_moe.py VOCAB_GGUF OUT_DIR PART    # from .device/fleet (run.sh moe PART)

PART `a`: the model, the defaults at seed 002's shapes (c=8 and c=1, 2048 in / 128 out), llama.cpp's
defaults, and `-np` {2, 4, 8, 16} × `-ub` {512, 1024, 2048} × `-fa on` at c=8; `b`: the long-prompt
code shape (16384 in / 512 out at c=4) for the defaults, llama.cpp's, the example's hand-picked
`parallel: 4` and `-np` {2, 4, 8} × `-ub` {1024, 2048}; `c`: part a's c=8 rows again under CUDA MPS
with 15 % of the SMs (about 20 of the H200's 132: Thor's count; MPS cannot give Thor's memory bandwidth).
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from device_bench import wait_healthy  # noqa: E402
from moe_model import QWEN3_CODER_30B_A3B, write_qwen3moe  # noqa: E402

from thorfleet.bench import prompts  # noqa: E402
from thorfleet.bench.client import Endpoint, run_load  # noqa: E402
from thorfleet.bench.stats import summarize  # noqa: E402
from thorfleet.fleet import load_fleet  # noqa: E402
from thorfleet.roles.engines.commands import engine_argv  # noqa: E402

SEED_002 = {8: (8, 2048, 128, 24), 1: (1, 2048, 128, 6)}  # concurrency -> (concurrency, in, out, requests)
CODE = (4, 16384, 512, 8)
ENGINE = "qwen3-coder"


def flags(parallel: int, ubatch: int, slot_context: int) -> list[str]:
    args = {"gpu-layers": 999, "parallel": parallel, "ctx-size": parallel * slot_context, "ubatch-size": ubatch,
            "batch-size": max(2048, ubatch), "flash-attn": "on", "load-mode": "mlock", "cache-ram": 0}
    return [w for k, v in args.items() for w in (f"--{k}", str(v))]


def serve(label: str, argv: list[str], shapes: list[tuple[int, int, int, int]], env: dict | None = None) -> list[dict]:
    log_path = Path("/tmp") / f"moe-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.txt"
    base, records, words = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}", [], {}
    with open(log_path, "w") as log:
        server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        try:
            loaded = wait_healthy(base, server)
            endpoint = Endpoint(base, "qwen3-coder")
            for concurrency, input_len, output_len, requests in shapes:
                if input_len not in words:
                    words[input_len] = prompts.calibrate(endpoint, input_len)
                run_load(endpoint, prompts.prompts(words[input_len], concurrency, 7_000 * concurrency), 16, concurrency)
                results, duration = run_load(endpoint, prompts.prompts(words[input_len], requests, 900_000 + concurrency),
                                             output_len, concurrency)
                figures = summarize(results, duration, concurrency)
                records.append({"label": label, "shape": [concurrency, input_len, output_len, requests],
                                "command_line": " ".join(argv[1:]), "load_s": round(loaded, 1), "figures": figures})
                print(f"{label:44s} c={concurrency} {input_len}/{output_len}  {figures['output_throughput']:7.1f} tok/s  "
                      f"TTFT {figures['mean_ttft_ms']:7.0f} ms  TPOT {figures['mean_tpot_ms']:6.2f} ms  failed {figures['failed']}",
                      flush=True)
        except SystemExit as err:
            records.append({"label": label, "command_line": " ".join(argv[1:]), "infeasible": str(err)})
            print(f"{label:44s} infeasible: {err}", flush=True)
        finally:
            server.terminate()
            server.wait(120)
    return records


def main(vocab: str, out: str, part: str) -> None:
    config = load_fleet(Path("inventory/serve.py")).hosts["@local"].config
    engine = config.engines[ENGINE]
    rendered = engine_argv(config, ENGINE, engine)[0]
    model = Path(rendered[rendered.index("--model") + 1])
    if not model.exists():
        model.parent.mkdir(parents=True, exist_ok=True)
        write_qwen3moe(Path(vocab), model, QWEN3_CODER_30B_A3B, "Qwen3-Coder-30B-A3B-shaped (random weights)")
    own = rendered[:rendered.index("--alias") + 2] + ["--metrics"]
    print("== thorfleet renders:", " ".join(rendered[1:]), flush=True)
    runs: list[tuple[str, list[str], list, dict | None]] = []
    if part == "a":
        runs.append(("thorfleet defaults (cache-ram 0)", rendered, [SEED_002[8], SEED_002[1]], None))
        runs.append(("llama.cpp defaults (-c 0; cache-ram 8192)", own + ["--ctx-size", "0"], [SEED_002[8], SEED_002[1]], None))
        runs += [(f"-np {p} -ub {u} -fa on (cache-ram 0)", own + flags(p, u, 8192), [SEED_002[8]], None)
                 for p in (2, 4, 8, 16) for u in (512, 1024, 2048)]
    elif part == "b":
        long = engine.model_copy(update={"slot_context": 32768})
        code_config = config.model_copy(update={"engines": {ENGINE: long}})
        runs.append(("thorfleet defaults, slot 32768 (cache-ram 0)", engine_argv(code_config, ENGINE, long)[0], [CODE], None))
        runs.append(("llama.cpp defaults (-c 0; cache-ram 8192)", own + ["--ctx-size", "0"], [CODE], None))
        runs += [(f"-np {p} -ub {u} -fa on, slot 32768 (cache-ram 0)", own + flags(p, u, 32768), [CODE], None)
                 for p in (2, 4, 8) for u in (1024, 2048)]
    else:
        subprocess.run(["nvidia-cuda-mps-control", "-d"], check=True)
        mps = {"CUDA_MPS_ACTIVE_THREAD_PERCENTAGE": "15"}
        runs.append(("MPS 15 %: thorfleet defaults (cache-ram 0)", rendered, [SEED_002[8], SEED_002[1]], mps))
        runs += [(f"MPS 15 %: -np {p} -ub {u} -fa on (cache-ram 0)", own + flags(p, u, 8192), [SEED_002[8]], mps)
                 for p in (2, 4, 8, 16) for u in (512, 1024, 2048)]
    records, started = [], time.time()
    try:
        for label, argv, shapes, env in runs:
            records += serve(label, argv, shapes, env)
    finally:
        if part == "c":
            subprocess.run(["sh", "-c", "echo quit | nvidia-cuda-mps-control"], check=False)
    print(f"== {len(runs)} servers in {time.time() - started:.0f} s; model {model}", flush=True)
    (Path(out) / f"moe-{part}.json").write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
